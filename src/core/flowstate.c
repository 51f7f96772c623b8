/*-------------------------------------------------------------------------
 * flowstate.c
 *	  What flow control keeps in shared memory: per configured queue, the
 *	  tasks claimed by transactions that have not ended yet, the rate
 *	  limit's token bucket and the claims of the last minutes; per
 *	  concurrency key, its claims not yet ended.
 *
 * Why pending claims live here.  A claim of a queue with a concurrency
 * limit counts the queue's in-flight tasks, under a lock of the queue that
 * the claims of that queue take one after another.  If the lock were held
 * until commit, every claim would wait for the previous one's commit (its
 * WAL flush): a limit far from binding would cut a queue's claims to one
 * transaction per flush.  Instead a claim reserves what it may take in the
 * queue's (and key's) pending count here before it lets go of the lock,
 * gives back what it did not take once its UPDATE is done, and takes the
 * rest back at the end of its transaction, after its commit is visible
 * (the commit callback runs after the procarray says so).  The next claim,
 * holding the lock, reads the pending count first and then counts the
 * table in a new snapshot: a claim whose commit is not visible yet is in
 * the pending count, one that committed is in the table, and one that
 * committed in between is in both (counted twice for that instant: a claim
 * may take fewer, never more).
 *
 * Why counting is rare.  Counting a queue's in-flight tasks costs a row
 * per task in flight.  Each queue keeps an upper bound of that count: the
 * last exact count plus the claims committed since (a monotone counter,
 * read before the count's snapshot is taken, so a claim committed in
 * between is counted twice, never missed).  Tasks that leave 'running'
 * only make the bound looser.  A claim that fits under the limit by the
 * bound does not count; one that does not fit counts again, which resets
 * the bound.  Far from the limit a queue is counted about once per
 * (limit - in flight) claims; near it, at every claim.
 *
 * The token bucket and the per-minute claims are not transactional: a
 * claim takes its tokens before its UPDATE and gives back those it did
 * not use, but a claim rolled back has spent its tokens (the limit errs on
 * the side of fewer claims), and a restart empties the bucket and forgets
 * the counts.
 *
 * The table of entries has a fixed size (WF_FLOW_ENTRIES).  When it is
 * full, wf_flow_add_pending says so and the claim keeps its queue lock to
 * commit instead: slower, never wrong.  Entries of keys are removed when
 * their last pending claim ends.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "core/core.h"

/* Entries: configured queues plus the keys of claims in progress. */
#define WF_FLOW_ENTRIES 4096

typedef struct FlowKey
{
	Oid			dboid;
	bool		keyed;			/* a concurrency key's entry, not a queue's */
	uint64		queue_hash;
	uint64		key_hash;		/* 0 for a queue's entry */
} FlowKey;

typedef struct FlowEntry
{
	FlowKey		key;
	int64		pending;		/* claimed by transactions not yet ended */
	/* queue entries only */
	bool		has_bucket;
	int32		rate_tasks;		/* the rate the bucket was filled for */
	double		rate_per;		/* seconds */
	double		tokens;			/* the bucket, at refilled_at */
	TimestampTz refilled_at;
	int64		committed;		/* claims committed since the server started */
	bool		has_count;		/* count_base is an exact count */
	int64		count_base;		/* in flight at the last count */
	int64		count_committed;	/* committed before that count's snapshot */
	TimestampTz window_start;	/* claims are counted per minute from here */
	int64		window_claims;
	int64		previous_claims;	/* in the minute before window_start */
} FlowEntry;

/* A claim of this transaction, to take back from the pending count at its end. */
typedef struct LocalPending
{
	FlowKey		key;
	int64		n;
} LocalPending;

static HTAB *flow_entries = NULL;
static LWLock *flow_lock = NULL;
static List *my_pending = NIL;	/* LocalPending, in TopTransactionContext */

/* Shared memory needed. */
Size
wf_flow_shmem_size(void)
{
	return hash_estimate_size(WF_FLOW_ENTRIES, sizeof(FlowEntry));
}

/* Create or attach to the table (under AddinShmemInitLock). */
void
wf_flow_shmem_startup(void)
{
	HASHCTL		info;

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(FlowKey);
	info.entrysize = sizeof(FlowEntry);
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	flow_entries = ShmemInitHash("workflow flow control", WF_FLOW_ENTRIES, WF_FLOW_ENTRIES,
								 &info, HASH_ELEM | HASH_BLOBS);
	flow_lock = &(GetNamedLWLockTranche("workflow flow control"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/* Is the table there (the library was preloaded)? */
bool
wf_flow_available(void)
{
	return flow_entries != NULL;
}

/* The key of a queue's entry, or of a key's within it. */
static FlowKey
flow_key(const char *queue, const char *key)
{
	FlowKey		k;

	memset(&k, 0, sizeof(k));	/* HASH_BLOBS compares the padding too */
	k.dboid = MyDatabaseId;
	k.queue_hash = hash_bytes_extended((const unsigned char *) queue, strlen(queue), 0);
	if (key != NULL)
	{
		k.keyed = true;
		k.key_hash = hash_bytes_extended((const unsigned char *) key, strlen(key), 1);
	}
	return k;
}

/* What this transaction has pending under k. */
static int64
mine(const FlowKey *k)
{
	ListCell   *lc;

	foreach(lc, my_pending)
	{
		LocalPending *p = lfirst(lc);

		if (memcmp(&p->key, k, sizeof(FlowKey)) == 0)
			return p->n;
	}
	return 0;
}

/* A copy of the entry of k, read under the shared lock; false if there is none. */
static bool
read_entry(const FlowKey *k, FlowEntry *copy)
{
	FlowEntry  *e;

	if (flow_entries == NULL)
		return false;
	LWLockAcquire(flow_lock, LW_SHARED);
	e = hash_search(flow_entries, k, HASH_FIND, NULL);
	if (e != NULL)
		*copy = *e;
	LWLockRelease(flow_lock);
	return e != NULL;
}

/*
 * Tasks of queue (of key, if not NULL) claimed by transactions not yet
 * ended, this one's included; *own is this transaction's share.
 */
int64
wf_flow_pending(const char *queue, const char *key, int64 *own)
{
	FlowKey		k = flow_key(queue, key);
	FlowEntry	e;

	*own = mine(&k);
	return read_entry(&k, &e) ? e.pending : 0;
}

/* The entry of k, made if missing; NULL if the table is full.  Lock held exclusively. */
static FlowEntry *
entry_for(const FlowKey *k)
{
	bool		found;
	FlowEntry  *e = hash_search(flow_entries, k, HASH_ENTER_NULL, &found);

	if (e != NULL && !found)
		memset((char *) e + sizeof(FlowKey), 0, sizeof(FlowEntry) - sizeof(FlowKey));
	return e;
}

/* Add n (may be negative) to what this transaction has pending under k. */
static void
remember_pending(const FlowKey *k, int64 n)
{
	ListCell   *lc;
	LocalPending *p;
	MemoryContext oldcxt;

	foreach(lc, my_pending)
	{
		p = lfirst(lc);
		if (memcmp(&p->key, k, sizeof(FlowKey)) == 0)
		{
			p->n += n;
			return;
		}
	}
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	p = palloc(sizeof(LocalPending));
	p->key = *k;
	p->n = n;
	my_pending = lappend(my_pending, p);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * This transaction claimed (or reserved) n tasks of queue (of key), or
 * gives back -n it reserved and did not take: count them as pending until
 * it ends.  False if the table is full (nothing counted).
 */
bool
wf_flow_add_pending(const char *queue, const char *key, int64 n)
{
	FlowKey		k = flow_key(queue, key);
	FlowEntry  *e;

	if (flow_entries == NULL)
		return false;
	if (n == 0)
		return true;
	LWLockAcquire(flow_lock, LW_EXCLUSIVE);
	e = entry_for(&k);
	if (e != NULL)
		e->pending = Max(0, e->pending + n);
	LWLockRelease(flow_lock);
	if (e == NULL)
		return false;
	remember_pending(&k, n);
	return true;
}

/*
 * The transaction ended (committed and visible, or aborted): its claims
 * are no longer pending, and a commit's are counted as committed.  Keys'
 * entries left with nothing pending go.
 */
void
wf_flow_at_end(bool committed)
{
	ListCell   *lc;

	if (my_pending == NIL)
		return;
	LWLockAcquire(flow_lock, LW_EXCLUSIVE);
	foreach(lc, my_pending)
	{
		LocalPending *p = lfirst(lc);
		FlowEntry  *e = hash_search(flow_entries, &p->key, HASH_FIND, NULL);

		if (e == NULL)
			continue;
		e->pending = Max(0, e->pending - p->n);
		if (committed && !e->key.keyed)
			e->committed += p->n;
		if (e->key.keyed && e->pending == 0)
			(void) hash_search(flow_entries, &p->key, HASH_REMOVE, NULL);
	}
	LWLockRelease(flow_lock);
	my_pending = NIL;
}

/* The claims of queue committed so far: read before counting it. */
int64
wf_flow_committed(const char *queue)
{
	FlowKey		k = flow_key(queue, NULL);
	FlowEntry	e;

	return read_entry(&k, &e) ? e.committed : 0;
}

/*
 * An exact count of queue's in-flight tasks, taken in a snapshot newer
 * than the moment wf_flow_committed returned committed: the base of the
 * bound from now on.  The caller holds the queue's lock.
 */
void
wf_flow_set_count(const char *queue, int64 committed, int64 count)
{
	FlowKey		k = flow_key(queue, NULL);
	FlowEntry  *e;

	if (flow_entries == NULL)
		return;
	LWLockAcquire(flow_lock, LW_EXCLUSIVE);
	e = entry_for(&k);
	if (e != NULL)
	{
		e->has_count = true;
		e->count_base = count;
		e->count_committed = committed;
	}
	LWLockRelease(flow_lock);
}

/*
 * An upper bound of queue's in-flight tasks committed (pending claims
 * not included); false if there is none yet.
 */
bool
wf_flow_in_flight_bound(const char *queue, int64 *bound)
{
	FlowKey		k = flow_key(queue, NULL);
	FlowEntry	e;

	if (!read_entry(&k, &e) || !e.has_count)
		return false;
	*bound = e.count_base + (e.committed - e.count_committed);
	return true;
}

/*
 * The limits of queue were set: forget its bound, which claims made under
 * other limits (without a max_concurrency, which keeps it) may have left
 * too low, so that the next claim counts; a rate set again (rate_set)
 * starts with an empty bucket.
 */
void
wf_flow_limits_set(const char *queue, bool rate_set)
{
	FlowKey		k = flow_key(queue, NULL);
	FlowEntry  *e;

	if (flow_entries == NULL)
		return;
	LWLockAcquire(flow_lock, LW_EXCLUSIVE);
	e = hash_search(flow_entries, &k, HASH_FIND, NULL);
	if (e != NULL)
	{
		e->has_count = false;
		if (rate_set)
			e->has_bucket = false;
	}
	LWLockRelease(flow_lock);
}

/*
 * Take up to want tokens from the bucket of queue (at most rate_tasks,
 * filling at rate_tasks per per seconds), refilled to now; returns how
 * many were taken.  A bucket new or filled for another rate starts empty
 * at now.  -1 if the table is full.
 */
int32
wf_flow_take_tokens(const char *queue, int32 rate_tasks, double per, TimestampTz now,
					int32 want)
{
	FlowKey		k = flow_key(queue, NULL);
	FlowEntry  *e;
	int32		taken = -1;

	LWLockAcquire(flow_lock, LW_EXCLUSIVE);
	e = entry_for(&k);
	if (e != NULL)
	{
		if (!e->has_bucket || e->rate_tasks != rate_tasks || e->rate_per != per)
		{
			e->has_bucket = true;
			e->rate_tasks = rate_tasks;
			e->rate_per = per;
			e->tokens = 0;
			e->refilled_at = now;
		}
		else if (now > e->refilled_at)
		{
			e->tokens = Min((double) rate_tasks,
							e->tokens + rate_tasks * ((double) (now - e->refilled_at) /
													  USECS_PER_SEC) / per);
			e->refilled_at = now;
		}
		taken = (int32) Min((double) want, floor(e->tokens));
		e->tokens -= taken;
	}
	LWLockRelease(flow_lock);
	return taken;
}

/* Give back n tokens taken and not used. */
void
wf_flow_return_tokens(const char *queue, int32 n)
{
	FlowKey		k = flow_key(queue, NULL);
	FlowEntry  *e;

	if (flow_entries == NULL || n <= 0)
		return;
	LWLockAcquire(flow_lock, LW_EXCLUSIVE);
	e = hash_search(flow_entries, &k, HASH_FIND, NULL);
	if (e != NULL && e->has_bucket)
		e->tokens = Min((double) e->rate_tasks, e->tokens + n);
	LWLockRelease(flow_lock);
}

/* Move the per-minute window of e to now. */
static void
advance_window(FlowEntry *e, TimestampTz now)
{
	if (e->window_start == 0 || now >= e->window_start + 2 * USECS_PER_MINUTE)
	{
		e->previous_claims = 0;
		e->window_claims = 0;
		e->window_start = now;
	}
	else if (now >= e->window_start + USECS_PER_MINUTE)
	{
		e->previous_claims = e->window_claims;
		e->window_claims = 0;
		e->window_start += USECS_PER_MINUTE;
	}
}

/* A claim of a configured queue took n tasks: count them in the minute's claims. */
void
wf_flow_claimed(const char *queue, int n, TimestampTz now)
{
	FlowKey		k = flow_key(queue, NULL);
	FlowEntry  *e;

	if (flow_entries == NULL || n <= 0)
		return;
	LWLockAcquire(flow_lock, LW_EXCLUSIVE);
	e = entry_for(&k);
	if (e != NULL)
	{
		advance_window(e, now);
		e->window_claims += n;
	}
	LWLockRelease(flow_lock);
}

/*
 * The claims of queue in the last 60 seconds: those of the current minute
 * plus the share of the minute before that the last 60 seconds still
 * cover.  NULL (false) without shared memory.
 */
bool
wf_flow_claimed_last_minute(const char *queue, TimestampTz now, int64 *claims)
{
	FlowKey		k = flow_key(queue, NULL);
	FlowEntry	e;
	double		elapsed;

	*claims = 0;
	if (flow_entries == NULL)
		return false;
	if (read_entry(&k, &e) && e.window_start != 0 && now < e.window_start + 2 * USECS_PER_MINUTE)
	{
		elapsed = (double) Max(0, now - e.window_start) / USECS_PER_MINUTE;
		if (elapsed >= 1)
			*claims = (int64) rint(e.window_claims * (2 - elapsed));
		else
			*claims = e.window_claims + (int64) rint(e.previous_claims * (1 - elapsed));
	}
	return true;
}

/*
 * A prepared transaction outlives the session whose end would take its
 * claims back from the pending count: refuse to prepare one that has any.
 */
void
wf_flow_at_pre_prepare(void)
{
	if (my_pending != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot PREPARE a transaction that claimed tasks of a queue with limits"),
				 errhint("Claim in a transaction of its own, and commit it.")));
}
