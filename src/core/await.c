/*-------------------------------------------------------------------------
 * await.c
 *	  Waking the sessions that wait for a run to close
 *	  (workflow.await_result), at the commit that closes it.
 *
 * Shared memory holds a small fixed table of buckets; a workflow_id
 * hashes (with its database) to one.  Each bucket has a count of the
 * sessions waiting on ids of that bucket and a condition variable.  A
 * waiter counts itself in, then checks the run, then sleeps on the
 * bucket's variable; a transaction that closes a run (wf_close_run) only
 * remembers the bucket in backend memory, and at commit broadcasts on the
 * buckets it closed runs of that have waiters.  So a commit with no
 * waiters costs one atomic read per run it closed, and many waiters on
 * many runs cost nothing but the occasional wake-up of a waiter whose id
 * shares a bucket (it checks its run again and sleeps on).
 *
 * No wake-up is lost: the waiter's increment (a full barrier) comes before
 * the snapshot of its check, and the closer reads the count after its
 * commit became visible (XACT_EVENT_COMMIT runs after the proc array
 * says so), with a barrier in between.  Either the check sees the close,
 * or the closer sees the waiter; and the waiter prepared to sleep on the
 * variable before its check, so a broadcast in between is not missed.
 *
 * A closing subtransaction that rolls back still marks its bucket: a
 * spurious wake-up, which waiters tolerate anyway.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/shmem.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

#include "core/core.h"

#define WF_AWAIT_BUCKETS 1024

typedef struct WfAwaitBucket
{
	pg_atomic_uint32 waiters;
	ConditionVariable cv;
} WfAwaitBucket;

static WfAwaitBucket *buckets = NULL;

/* Buckets of runs this transaction closed (one bit each). */
static uint64 closed_buckets[WF_AWAIT_BUCKETS / 64];
static bool closed_any = false;

/* The bucket this session counted itself into, or -1. */
static int	waiting_in = -1;

/* Shared memory needed for the buckets. */
Size
wf_await_shmem_size(void)
{
	return MAXALIGN(mul_size(sizeof(WfAwaitBucket), WF_AWAIT_BUCKETS));
}

/* Create or attach to the buckets. */
void
wf_await_shmem_startup(void)
{
	bool		found;
	int			i;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	buckets = ShmemInitStruct("workflow await", wf_await_shmem_size(), &found);
	for (i = 0; !found && i < WF_AWAIT_BUCKETS; i++)
	{
		pg_atomic_init_u32(&buckets[i].waiters, 0);
		ConditionVariableInit(&buckets[i].cv);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Is there shared memory to wait in (the library was preloaded)? */
bool
wf_await_available(void)
{
	return buckets != NULL;
}

/* The bucket of a workflow_id of this database. */
static int
bucket_of(const char *workflow_id)
{
	uint32		h = hash_bytes((const unsigned char *) workflow_id, strlen(workflow_id));

	return (int) (hash_combine(h, MyDatabaseId) % WF_AWAIT_BUCKETS);
}

/* This transaction closes a run of workflow_id: wake its waiters at commit. */
void
wf_await_note_closed(const char *workflow_id)
{
	int			b = bucket_of(workflow_id);

	closed_buckets[b / 64] |= (uint64) 1 << (b % 64);
	closed_any = true;
}

/* At commit: wake the waiters of the buckets this transaction closed runs of. */
void
wf_await_at_commit(void)
{
	int			w;

	if (!closed_any || buckets == NULL)
		return;
	pg_memory_barrier();
	for (w = 0; w < WF_AWAIT_BUCKETS / 64; w++)
	{
		uint64		bits = closed_buckets[w];
		int			i;

		for (i = 0; bits != 0 && i < 64; i++, bits >>= 1)
		{
			WfAwaitBucket *bucket = &buckets[w * 64 + i];

			if ((bits & 1) && pg_atomic_read_u32(&bucket->waiters) > 0)
				ConditionVariableBroadcast(&bucket->cv);
		}
	}
}

/* At any end of the transaction: forget the closed runs; a waiter that errored out leaves. */
void
wf_await_at_end(void)
{
	if (closed_any)
	{
		memset(closed_buckets, 0, sizeof(closed_buckets));
		closed_any = false;
	}
	wf_await_leave();
}

/*
 * Start waiting for runs of workflow_id: count this session in and
 * prepare to sleep, before the caller's first check of the run.
 */
void
wf_await_enter(const char *workflow_id)
{
	WfAwaitBucket *bucket;

	Assert(buckets != NULL);
	/* A wait cut short inside a subtransaction (a caught cancel) is over. */
	wf_await_leave();
	waiting_in = bucket_of(workflow_id);
	bucket = &buckets[waiting_in];
	ConditionVariablePrepareToSleep(&bucket->cv);
	pg_atomic_fetch_add_u32(&bucket->waiters, 1);
}

/*
 * Sleep until a commit closes a run of this bucket, timeout_ms passes (-1:
 * no timeout) or an interrupt arrives (handled: a cancel raises).
 */
void
wf_await_sleep(long timeout_ms)
{
	Assert(waiting_in >= 0);
	CHECK_FOR_INTERRUPTS();
	/* Hold no catalog snapshot (and its xmin) while asleep. */
	InvalidateCatalogSnapshot();
	if (timeout_ms < 0)
		ConditionVariableSleep(&buckets[waiting_in].cv, PG_WAIT_EXTENSION);
	else
		(void) ConditionVariableTimedSleep(&buckets[waiting_in].cv, timeout_ms,
										   PG_WAIT_EXTENSION);
	CHECK_FOR_INTERRUPTS();
}

/* Stop waiting (also called at the end of the transaction, so an error leaves too). */
void
wf_await_leave(void)
{
	if (waiting_in < 0)
		return;
	ConditionVariableCancelSleep();
	pg_atomic_fetch_sub_u32(&buckets[waiting_in].waiters, 1);
	waiting_in = -1;
}
