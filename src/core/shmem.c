/*-------------------------------------------------------------------------
 * shmem.c
 *	  The extension's shared memory: per database, the slots of its
 *	  scheduler pool (latch, process, planned wake-up), so that commits can
 *	  wake a scheduler and DROP DATABASE can stop it; the launcher's latch;
 *	  and the queue slots that notify.c publishes into.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"


#include "core/core.h"

int			wf_max_workers = 2;
int			wf_max_databases = 64;

static WfShared *wf_shared = NULL;
static int	my_worker = 0;		/* a scheduler's index in its database's pool */

/* Shared memory needed. */
Size
wf_shmem_size(void)
{
	return MAXALIGN(add_size(offsetof(WfShared, dbs),
							 mul_size(sizeof(WfDbSlot), wf_max_databases)));
}

/* Create or attach to the shared state (under AddinShmemInitLock). */
void
wf_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	wf_shared = ShmemInitStruct("workflow", wf_shmem_size(), &found);
	if (!found)
	{
		memset(wf_shared, 0, wf_shmem_size());
		wf_shared->lock = &(GetNamedLWLockTranche("workflow"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The shared state, or NULL when the library was not preloaded. */
WfShared *
wf_shared_state(void)
{
	return wf_shared;
}

/* The slot of a database's scheduler, or NULL.  Caller holds the lock. */
WfDbSlot *
wf_db_slot(Oid dboid)
{
	int			i;

	for (i = 0; i < wf_max_databases; i++)
		if (wf_shared->dbs[i].dboid == dboid)
			return &wf_shared->dbs[i];
	return NULL;
}

/*
 * The slot of a database, taken if it has none (caller holds the lock
 * exclusively).  NULL, with a WARNING naming the database and the
 * setting, when all workflow.max_databases slots are taken.
 */
WfDbSlot *
wf_take_db_slot(Oid dboid, const char *dbname)
{
	WfDbSlot   *slot = wf_db_slot(dboid);

	if (slot != NULL)
		return slot;
	slot = wf_db_slot(InvalidOid);
	if (slot == NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("database \"%s\" has extension \"workflow\" but no scheduler will serve it",
						dbname),
				 errdetail("All %d slots set by workflow.max_databases are in use.",
						   wf_max_databases),
				 errhint("Raise workflow.max_databases (it takes a server restart).")));
		return NULL;
	}
	memset(slot, 0, sizeof(WfDbSlot));
	slot->dboid = dboid;
	return slot;
}

/* This process is scheduler number i of its database. */
void
wf_set_worker_index(int i)
{
	my_worker = i;
}

/* This process's index in its database's pool (0 outside schedulers). */
int
wf_worker_index(void)
{
	return my_worker;
}

/* Does any scheduler of the slot run? */
bool
wf_slot_has_workers(WfDbSlot *slot)
{
	int			i;

	for (i = 0; i < WF_MAX_WORKERS; i++)
		if (slot->workers[i].pid != 0)
			return true;
	return false;
}

/* All per-database slots. */
WfDbSlot *
wf_db_slots(void)
{
	return wf_shared->dbs;
}

/* Lock for the per-database slots. */
LWLock *
wf_shared_lock(void)
{
	return wf_shared->lock;
}

/* Publish the launcher's latch. */
void
wf_set_launcher_latch(Latch *latch)
{
	LWLockAcquire(wf_shared->lock, LW_EXCLUSIVE);
	wf_shared->launcher_latch = latch;
	LWLockRelease(wf_shared->lock);
}
