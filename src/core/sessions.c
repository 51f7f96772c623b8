/*-------------------------------------------------------------------------
 * sessions.c
 *	  The ends of claiming sessions, for session-bound leases.
 *
 * A backend that claims a task registers (once) a before_shmem_exit
 * callback.  When the session ends -- the client disconnects or dies, or
 * pg_terminate_backend -- the callback records the session (database, pid
 * and start time: a pid alone could be reused) in a ring in shared memory
 * and wakes the database's schedulers, which fail the tasks that session
 * still holds (model/leases.c).  The start time makes the identity
 * unique: two backends of one pid never start in the same microsecond.
 *
 * What this cannot see is covered by the leases' timeouts, as before: a
 * crash of a backend (the postmaster resets shared memory and every
 * session with it), a full ring (more claiming sessions ended than the
 * schedulers took between two passes: counted, and logged once per
 * overflow by the scheduler), a library that was not preloaded.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "core/core.h"

typedef struct WfSessionRing
{
	slock_t		mutex;
	int			size;			/* capacity of ended[] */
	int			count;			/* entries in use, ended[0 .. count-1] */
	uint64		lost;			/* ends that found the ring full */
	WfEndedSession ended[FLEXIBLE_ARRAY_MEMBER];
} WfSessionRing;

static WfSessionRing *ring = NULL;
static bool exit_hook_registered = false;

/* Entries of the ring: two per possible backend, and never few. */
static int
ring_capacity(void)
{
	return Max(2 * MaxBackends, 128);
}

/* Shared memory needed for the ring. */
Size
wf_sessions_shmem_size(void)
{
	return add_size(offsetof(WfSessionRing, ended),
					mul_size(sizeof(WfEndedSession), ring_capacity()));
}

/* Create or attach to the ring. */
void
wf_sessions_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ring = ShmemInitStruct("workflow sessions", wf_sessions_shmem_size(), &found);
	if (!found)
	{
		SpinLockInit(&ring->mutex);
		ring->size = ring_capacity();
		ring->count = 0;
		ring->lost = 0;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Add one ended session to the ring; false if it is full. */
static bool
ring_add(const WfEndedSession *s)
{
	bool		added;

	SpinLockAcquire(&ring->mutex);
	added = ring->count < ring->size;
	if (added)
		ring->ended[ring->count++] = *s;
	SpinLockRelease(&ring->mutex);
	return added;
}

/* One end that found the ring full: its tasks wait for their timeouts. */
static void
ring_count_lost(void)
{
	SpinLockAcquire(&ring->mutex);
	ring->lost++;
	SpinLockRelease(&ring->mutex);
}

/* Is a scheduler serving database dboid?  Caller holds the shared lock. */
static bool
served(Oid dboid)
{
	WfDbSlot   *slot = wf_db_slot(dboid);

	return slot != NULL && wf_slot_has_workers(slot);
}

/*
 * Drop the entries of databases no scheduler serves any more (dropped, or
 * the extension gone): nobody would take them.  Caller holds the shared
 * lock.
 */
static void
ring_forget_unserved(void)
{
	int			i = 0;

	SpinLockAcquire(&ring->mutex);
	while (i < ring->count)
	{
		if (!served(ring->ended[i].dboid))
			ring->ended[i] = ring->ended[--ring->count];
		else
			i++;
	}
	SpinLockRelease(&ring->mutex);
}

/* Wake every scheduler of this database.  Caller holds the lock exclusively. */
static void
wake_schedulers(void)
{
	WfDbSlot   *slot = wf_db_slot(MyDatabaseId);
	int			i;

	for (i = 0; slot && i < WF_MAX_WORKERS; i++)
		if (slot->workers[i].latch != NULL)
		{
			slot->workers[i].due_changed = true;
			SetLatch(slot->workers[i].latch);
		}
}

/*
 * before_shmem_exit: this claiming session ends.  Record it for the
 * database's schedulers and wake them; when none runs, there is nobody to
 * tell (the leases' timeouts act when one starts).
 */
static void
session_exit(int code, Datum arg)
{
	WfEndedSession s;

	/* Never wait for a lock this exiting backend may hold itself. */
	if (ring == NULL || !OidIsValid(MyDatabaseId) || LWLockHeldByMe(wf_shared_lock()))
		return;
	s.dboid = MyDatabaseId;
	s.pid = MyProcPid;
	s.started = MyStartTimestamp;
	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	if (served(MyDatabaseId))
	{
		if (!ring_add(&s))
		{
			ring_forget_unserved();
			if (!ring_add(&s))
				ring_count_lost();
		}
		wake_schedulers();
	}
	LWLockRelease(wf_shared_lock());
}

/*
 * This session claims tasks: make sure its end will be announced, and
 * give its identity (pid, start time).  False when no end could be
 * announced (the library was not preloaded): then the claim records no
 * session and relies on its timeouts.
 */
bool
wf_session_claims(int *pid, TimestampTz *started)
{
	if (ring == NULL)
		return false;
	if (!exit_hook_registered)
	{
		before_shmem_exit(session_exit, (Datum) 0);
		exit_hook_registered = true;
	}
	*pid = MyProcPid;
	*started = MyStartTimestamp;
	return true;
}

/*
 * Take up to max ended sessions of this database out of the ring, into
 * out; returns how many.  *lost is set to the ends lost to a full ring
 * since the previous call (of any database), and reset.
 */
int
wf_take_ended_sessions(WfEndedSession *out, int max, uint64 *lost)
{
	int			n = 0;
	int			i = 0;

	*lost = 0;
	if (ring == NULL)
		return 0;
	SpinLockAcquire(&ring->mutex);
	while (i < ring->count && n < max)
	{
		if (ring->ended[i].dboid == MyDatabaseId)
		{
			out[n++] = ring->ended[i];
			ring->ended[i] = ring->ended[--ring->count];
		}
		else
			i++;
	}
	*lost = ring->lost;
	ring->lost = 0;
	SpinLockRelease(&ring->mutex);
	return n;
}

/*
 * Give back an ended session whose tasks could not all be failed yet
 * (another session held a row); false if the ring is full meanwhile.
 */
bool
wf_keep_ended_session(const WfEndedSession *s)
{
	return ring != NULL && ring_add(s);
}
