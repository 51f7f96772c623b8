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
 * The queue slots live in the shared memory of shmem.c, beside the
 * per-database scheduler slots that commits use to wake schedulers.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "core/core.h"

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

static List *pending_queues = NIL;	/* in TopTransactionContext */
static bool wake_at_commit = false;
static TimestampTz earliest_due = 0;	/* nearest due time this transaction made */
static bool wake_launcher_at_commit = false;
static char created_in[NAMEDATALEN];	/* the database's name, for a warning */

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

/* Wake the launcher now. */
static void
wf_wake_launcher(void)
{
	Latch	   *latch = NULL;

	if (wf_shared_state() == NULL)
		return;
	LWLockAcquire(wf_shared_lock(), LW_SHARED);
	latch = wf_shared_state()->launcher_latch;
	LWLockRelease(wf_shared_lock());
	if (latch)
		SetLatch(latch);
}

/* Is a scheduler serving this database right now? */
static bool
scheduler_running(void)
{
	WfDbSlot   *slot;
	bool		running;

	LWLockAcquire(wf_shared_lock(), LW_SHARED);
	slot = wf_db_slot(MyDatabaseId);
	running = slot != NULL && wf_slot_has_workers(slot);
	LWLockRelease(wf_shared_lock());
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

	if (wf_shared_state() == NULL || !scheduler_running())
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

	if (wf_shared_state() == NULL)
		return;
	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	slot = wf_db_slot(MyDatabaseId);
	if (slot)
		slot->workers[wf_worker_index()].next_wakeup = at;
	LWLockRelease(wf_shared_lock());
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

	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	slot = wf_db_slot(MyDatabaseId);
	foreach(lc, pending_queues)
	{
		PendingQueue *p = lfirst(lc);
		bool		done = p->ready == 0;

		wake |= !done;

		for (i = 0; i < WF_NOTIFY_SLOTS && !done; i++)
		{
			WfQueueSlot *q = &wf_shared_state()->queues[i];

			if (q->dboid == MyDatabaseId && strcmp(q->queue, p->queue) == 0)
				done = true;
		}
		for (i = free_from; i < WF_NOTIFY_SLOTS && !done; i++)
		{
			WfQueueSlot *q = &wf_shared_state()->queues[i];

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
	LWLockRelease(wf_shared_lock());
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

	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	slot = wf_take_db_slot(MyDatabaseId, created_in);
	if (slot)
		slot->no_extension = false;
	LWLockRelease(wf_shared_lock());
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
	if (wf_shared_state() == NULL)
		return 0;
	queues = palloc(sizeof(char[NAMEDATALEN]) * WF_NOTIFY_SLOTS);
	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	for (i = 0; i < WF_NOTIFY_SLOTS; i++)
	{
		WfQueueSlot *q = &wf_shared_state()->queues[i];

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
	LWLockRelease(wf_shared_lock());

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

	if (wf_shared_state() == NULL)
		return true;
	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	slot = wf_db_slot(MyDatabaseId);
	if (slot)
	{
		WfWorkerSlot *w = &slot->workers[wf_worker_index()];

		need = w->due_changed || slot->notify_overflow ||
			w->next_wakeup == 0 || now >= w->next_wakeup;
		w->due_changed = false;
	}
	LWLockRelease(wf_shared_lock());
	return need;
}

/* Scheduler side: the wake-up it planned (0 if none). */
TimestampTz
wf_scheduler_planned_wakeup(void)
{
	WfDbSlot   *slot;
	TimestampTz at = 0;

	LWLockAcquire(wf_shared_lock(), LW_SHARED);
	slot = wf_db_slot(MyDatabaseId);
	if (slot)
		at = slot->workers[wf_worker_index()].next_wakeup;
	LWLockRelease(wf_shared_lock());
	return at;
}

/* Before commit: a transaction that only claimed need not wait for its flush. */
void
wf_notify_at_pre_commit(void)
{
	if (claims_only && XactLastRecEnd == claims_wal_end)
		(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
}

/* Commit: publish the queues and due times, wake who must act. */
void
wf_notify_at_commit(void)
{
	if (wf_shared_state() == NULL)
		return;
	if (wake_at_commit || pending_queues != NIL || earliest_due != 0)
		publish_at_commit(wake_at_commit);
	if (wake_launcher_at_commit)
		launcher_recheck_at_commit();
}

/* Transaction end, committed or not: forget what was to be announced. */
void
wf_notify_at_end(void)
{
	pending_queues = NIL;		/* freed with TopTransactionContext */
	wake_at_commit = false;
	earliest_due = 0;
	wake_launcher_at_commit = false;
	claims_only = false;
}

/*
 * Subtransaction end: a rolled-back savepoint announces nothing of its
 * queues; a committed one hands them to its parent.
 */
void
wf_notify_at_subend(SubTransactionId subid, SubTransactionId parent, bool commit)
{
	ListCell   *lc;

	foreach(lc, pending_queues)
	{
		PendingQueue *p = lfirst(lc);

		if (p->subid != subid)
			continue;
		if (commit)
			p->subid = parent;
		else
			pending_queues = foreach_delete_current(pending_queues, lc);
	}
}
