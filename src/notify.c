/*-------------------------------------------------------------------------
 * notify.c
 *	  Announcing queues that got work, after commit, without NOTIFY in the
 *	  application's transaction.
 *
 * A NOTIFY makes its transaction take a cluster-wide lock at commit, which
 * would serialize every commit that starts or advances a workflow.  So a
 * transaction only remembers (in backend memory) which queues got ready
 * tasks; when it commits, the queue names go to shared memory and the
 * database's scheduler is woken, which sends one NOTIFY per queue per
 * wake-up.  A rolled-back transaction (or subtransaction) announces
 * nothing.  When no scheduler serves the database (library not preloaded,
 * or the scheduler is not running), the transaction notifies directly.
 *
 * The same shared memory holds, per database, the scheduler's latch and
 * process, so that commits can wake it and DROP DATABASE can stop it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/async.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "workflow.h"

#define WF_NOTIFY_SLOTS 1024

typedef struct WfQueueSlot
{
	Oid			dboid;			/* InvalidOid = free */
	char		queue[NAMEDATALEN];
} WfQueueSlot;

typedef struct WfShared
{
	LWLock	   *lock;
	Latch	   *launcher_latch;
	WfQueueSlot queues[WF_NOTIFY_SLOTS];
	WfDbSlot	dbs[FLEXIBLE_ARRAY_MEMBER]; /* workflow.max_databases */
} WfShared;

/*
 * A queue the current transaction made tasks ready on, less those it
 * claimed itself (eager dispatch): only a queue with tasks left for
 * others is announced.
 */
typedef struct PendingQueue
{
	char		queue[NAMEDATALEN];
	int			ready;
	SubTransactionId subid;
} PendingQueue;

static WfShared *wf_shared = NULL;
static List *pending_queues = NIL;	/* in TopTransactionContext */
static bool wake_at_commit = false;
static TimestampTz earliest_due = 0;	/* nearest due time this transaction made */
static bool wake_launcher_at_commit = false;
static char created_in[NAMEDATALEN];	/* the database's name, for a warning */
static int	my_worker = 0;		/* a scheduler's index in its database's pool */

/*
 * A transaction that only claims need not wait for its commit to reach
 * disk: if the server crashes before, the claim is forgotten and the task
 * claimed again, which at-least-once delivery allows anyway.  Whether it
 * only claimed is decided at commit: claims_only says the transaction
 * wrote nothing before its claims, and claims_wal_end is where its WAL
 * ended after the last of them; any write after that (or between claims)
 * moves XactLastRecEnd, since every change that must survive a crash is
 * WAL-logged by this backend.
 */
static bool claims_only = false;
static XLogRecPtr claims_wal_end = InvalidXLogRecPtr;

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

/* Wake the launcher now. */
static void
wf_wake_launcher(void)
{
	Latch	   *latch = NULL;

	if (wf_shared == NULL)
		return;
	LWLockAcquire(wf_shared->lock, LW_SHARED);
	latch = wf_shared->launcher_latch;
	LWLockRelease(wf_shared->lock);
	if (latch)
		SetLatch(latch);
}

/* Is a scheduler serving this database right now? */
static bool
scheduler_running(void)
{
	WfDbSlot   *slot;
	bool		running;

	LWLockAcquire(wf_shared->lock, LW_SHARED);
	slot = wf_db_slot(MyDatabaseId);
	running = slot != NULL && wf_slot_has_workers(slot);
	LWLockRelease(wf_shared->lock);
	return running;
}

/*
 * A queue got ready work in this transaction: announce it after commit (or
 * right away in this transaction when no scheduler would).
 */
void
wf_notify_queue(const char *queue)
{
	ListCell   *lc;
	PendingQueue *p;
	MemoryContext old;

	if (wf_shared == NULL || !scheduler_running())
	{
		Async_Notify(queue, "");
		return;
	}
	foreach(lc, pending_queues)
	{
		p = lfirst(lc);
		if (strcmp(p->queue, queue) == 0)
		{
			p->ready++;
			return;
		}
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	p = palloc0(sizeof(PendingQueue));
	strlcpy(p->queue, queue, NAMEDATALEN);
	p->ready = 1;
	p->subid = GetCurrentSubTransactionId();
	pending_queues = lappend(pending_queues, p);
	MemoryContextSwitchTo(old);
}

/* This transaction claimed n tasks of queue: fewer to announce. */
void
wf_claimed_from_queue(const char *queue, int n)
{
	ListCell   *lc;

	foreach(lc, pending_queues)
	{
		PendingQueue *p = lfirst(lc);

		if (strcmp(p->queue, queue) == 0)
			p->ready = Max(0, p->ready - n);
	}
}

/* Wake the scheduler after this commit (the extension changed, say). */
void
wf_wake_scheduler(void)
{
	wake_at_commit = true;
}

/*
 * This transaction made something due at due (a timer, a backoff, a
 * lease): after commit, wake the scheduler if it plans to sleep past it.
 */
void
wf_note_due(TimestampTz due)
{
	if (earliest_due == 0 || due < earliest_due)
		earliest_due = due;
}

/* The scheduler publishes when it means to wake up next. */
void
wf_set_next_wakeup(TimestampTz at)
{
	WfDbSlot   *slot;

	if (wf_shared == NULL)
		return;
	LWLockAcquire(wf_shared->lock, LW_EXCLUSIVE);
	slot = wf_db_slot(MyDatabaseId);
	if (slot)
		slot->workers[my_worker].next_wakeup = at;
	LWLockRelease(wf_shared->lock);
}

/* CREATE EXTENSION committed here: the launcher starts a scheduler. */
void
wf_wake_launcher_at_commit(void)
{
	char	   *name = get_database_name(MyDatabaseId);

	strlcpy(created_in, name ? name : "?", NAMEDATALEN);
	wake_launcher_at_commit = true;
}

/*
 * Move this transaction's queues to shared memory and wake the schedulers
 * that must act: each one that plans to sleep past a due time this
 * transaction made; for notifications, one that is asleep, or all if none
 * is; for an explicit wake (the extension is being dropped: each must see
 * it), all of them.
 */
static void
publish_at_commit(bool wake_all)
{
	bool		wake = wake_all;
	ListCell   *lc;
	WfDbSlot   *slot;
	Latch	   *latches[WF_MAX_WORKERS];
	int			nlatches = 0;
	int			free_from = 0;
	int			i;

	LWLockAcquire(wf_shared->lock, LW_EXCLUSIVE);
	slot = wf_db_slot(MyDatabaseId);
	foreach(lc, pending_queues)
	{
		PendingQueue *p = lfirst(lc);
		bool		done = p->ready == 0;

		wake |= !done;

		for (i = 0; i < WF_NOTIFY_SLOTS && !done; i++)
		{
			WfQueueSlot *q = &wf_shared->queues[i];

			if (q->dboid == MyDatabaseId && strcmp(q->queue, p->queue) == 0)
				done = true;
		}
		for (i = free_from; i < WF_NOTIFY_SLOTS && !done; i++)
		{
			WfQueueSlot *q = &wf_shared->queues[i];

			if (q->dboid == InvalidOid)
			{
				q->dboid = MyDatabaseId;
				strlcpy(q->queue, p->queue, NAMEDATALEN);
				free_from = i + 1;
				done = true;
			}
		}
		if (!done && slot)
			slot->notify_overflow = true;
	}
	for (i = 0; slot && i < WF_MAX_WORKERS; i++)
	{
		WfWorkerSlot *w = &slot->workers[i];

		if (w->latch == NULL || earliest_due == 0)
			continue;
		if (w->next_wakeup == 0 || earliest_due < w->next_wakeup)
		{
			w->due_changed = true;
			latches[nlatches++] = w->latch;
		}
	}
	if (slot && wake_all)
	{
		/* A full pass each: it is the pass that finds the extension gone. */
		nlatches = 0;
		for (i = 0; i < WF_MAX_WORKERS; i++)
			if (slot->workers[i].latch != NULL)
			{
				slot->workers[i].due_changed = true;
				latches[nlatches++] = slot->workers[i].latch;
			}
	}
	else if (slot && wake && nlatches == 0)
	{
		/* The first one asleep; if all are busy, all (they look when done). */
		for (i = 0; i < WF_MAX_WORKERS && nlatches == 0; i++)
			if (slot->workers[i].latch != NULL && slot->workers[i].next_wakeup != 0)
				latches[nlatches++] = slot->workers[i].latch;
		for (i = 0; i < WF_MAX_WORKERS && nlatches == 0; i++)
			if (slot->workers[i].latch != NULL)
				latches[nlatches++] = slot->workers[i].latch;
	}
	LWLockRelease(wf_shared->lock);
	for (i = 0; i < nlatches; i++)
		SetLatch(latches[i]);
}

/*
 * The extension was created here: take a slot for this database (the
 * launcher serves the databases that have one) and wake the launcher.
 */
static void
launcher_recheck_at_commit(void)
{
	WfDbSlot   *slot;

	LWLockAcquire(wf_shared->lock, LW_EXCLUSIVE);
	slot = wf_take_db_slot(MyDatabaseId, created_in);
	if (slot)
		slot->no_extension = false;
	LWLockRelease(wf_shared->lock);
	wf_wake_launcher();
}

/* Before a claim: has this transaction written nothing but claims so far? */
bool
wf_claim_starts_clean(void)
{
	if (GetTopTransactionIdIfAny() == InvalidTransactionId)
		return true;
	return claims_only && XactLastRecEnd == claims_wal_end;
}

/* After a claim (clean: wf_claim_starts_clean said so before it). */
void
wf_claim_done(bool clean)
{
	claims_only = clean;
	claims_wal_end = XactLastRecEnd;
}

/* Transaction end: publish on commit, forget on abort. */
static void
wf_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			wf_check_flushed();
			if (claims_only && XactLastRecEnd == claims_wal_end)
				(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
										 GUC_ACTION_LOCAL, true, 0, false);
			return;
		case XACT_EVENT_COMMIT:
			if (wf_shared != NULL && (wake_at_commit || pending_queues != NIL || earliest_due != 0))
				publish_at_commit(wake_at_commit);
			if (wf_shared != NULL && wake_launcher_at_commit)
				launcher_recheck_at_commit();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			break;
		default:
			return;
	}
	pending_queues = NIL;		/* freed with TopTransactionContext */
	wake_at_commit = false;
	earliest_due = 0;
	wake_launcher_at_commit = false;
	claims_only = false;
	wf_set_now(0);
	wf_replay_reset();
	wf_forget_events();
	wf_forget_type();
}

/*
 * Subtransaction end: forget what a rolled-back savepoint queued, and the
 * engine state an error left behind in it.
 */
static void
wf_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		wf_forget_events_since(mySubid);
		wf_replay_subxact_abort(mySubid);
		wf_forget_type();
	}
	foreach(lc, pending_queues)
	{
		PendingQueue *p = lfirst(lc);

		if (p->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_ABORT_SUB)
			pending_queues = foreach_delete_current(pending_queues, lc);
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
			p->subid = parentSubid;
	}
}

/* Register the transaction callbacks (once per backend). */
void
wf_notify_init(void)
{
	RegisterXactCallback(wf_xact_callback, NULL);
	RegisterSubXactCallback(wf_subxact_callback, NULL);
}

/*
 * Scheduler side: NOTIFY each queue published for this database, in the
 * current transaction.  Returns how many; *overflow says that some queues
 * could not be recorded, so every queue with ready tasks must be
 * announced (wf_notify_all_ready_queues).
 */
int
wf_send_pending_notifies(bool *overflow)
{
	char		(*queues)[NAMEDATALEN];
	int			n = 0,
				i;
	WfDbSlot   *slot;

	*overflow = false;
	if (wf_shared == NULL)
		return 0;
	queues = palloc(sizeof(char[NAMEDATALEN]) * WF_NOTIFY_SLOTS);
	LWLockAcquire(wf_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < WF_NOTIFY_SLOTS; i++)
	{
		WfQueueSlot *q = &wf_shared->queues[i];

		if (q->dboid != MyDatabaseId)
			continue;
		strlcpy(queues[n++], q->queue, NAMEDATALEN);
		q->dboid = InvalidOid;
	}
	slot = wf_db_slot(MyDatabaseId);
	if (slot && slot->notify_overflow)
	{
		*overflow = true;
		slot->notify_overflow = false;
	}
	LWLockRelease(wf_shared->lock);

	for (i = 0; i < n; i++)
		Async_Notify(queues[i], "");
	return n;
}

/*
 * Scheduler side: does this wake-up need a full pass (something may be
 * due), or only the notifications?  Clears the "due changed" mark.
 */
bool
wf_scheduler_needs_pass(TimestampTz now)
{
	WfDbSlot   *slot;
	bool		need = true;

	if (wf_shared == NULL)
		return true;
	LWLockAcquire(wf_shared->lock, LW_EXCLUSIVE);
	slot = wf_db_slot(MyDatabaseId);
	if (slot)
	{
		WfWorkerSlot *w = &slot->workers[my_worker];

		need = w->due_changed || slot->notify_overflow ||
			w->next_wakeup == 0 || now >= w->next_wakeup;
		w->due_changed = false;
	}
	LWLockRelease(wf_shared->lock);
	return need;
}

/* Scheduler side: the wake-up it planned (0 if none). */
TimestampTz
wf_scheduler_planned_wakeup(void)
{
	WfDbSlot   *slot;
	TimestampTz at = 0;

	LWLockAcquire(wf_shared->lock, LW_SHARED);
	slot = wf_db_slot(MyDatabaseId);
	if (slot)
		at = slot->workers[my_worker].next_wakeup;
	LWLockRelease(wf_shared->lock);
	return at;
}
