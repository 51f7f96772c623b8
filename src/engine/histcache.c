/*-------------------------------------------------------------------------
 * histcache.c
 *	  The decoded history of the runs this backend advanced, kept across
 *	  transactions, so that the next workflow task of a run in the same
 *	  backend reads only the events after the ones it knows.
 *
 * An entry is keyed by (workflow_id, run_id) and holds the run's command
 * history (WfHistCmd by seq) as decoded from its events 1 .. through.
 * History is append-only and its event ids are gapless (core/history.c),
 * so the entry stays true for as long as the events it was built from
 * stay committed; what a run gained since is the events after `through`.
 *
 * The rule (also in src/README.md):
 *
 *	 - An entry is used only by a workflow task that holds the run's row
 *	   lock, and only if through <= the row's last_event_id (counting the
 *	   events this transaction appended); otherwise it is rebuilt from
 *	   the whole history.
 *	 - What a transaction adds to an entry (events it read or appended
 *	   itself, which are not committed yet) counts only once it commits:
 *	   at an abort or a PREPARE, every entry it touched is dropped; a
 *	   rolled-back subtransaction that was open when an entry was loaded
 *	   (its id <= the subtransaction of the load) drops that entry at the
 *	   end of the transaction and makes the next load in it start over.
 *	 - At most HIST_CACHE_RUNS runs and HIST_CACHE_BYTES of memory are
 *	   kept; the least recently used entry goes first.
 *
 * check_replay's dry runs never use the cache: they read the whole history.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/ilist.h"
#include "utils/memutils.h"

#include "engine/engine.h"

#define HIST_CACHE_RUNS 32
#define HIST_CACHE_BYTES (16 * 1024 * 1024)

struct WfHistCacheEntry
{
	dlist_node	node;			/* in the LRU list, most recent first */
	char	   *workflow_id;
	char		run_id[UUID_LEN];
	MemoryContext mcxt;			/* the decoded commands */
	WfHistCmd  *cmds;
	int			ncmds;
	int64		through;		/* committed: events 1 .. through decoded */
	bool		touched;		/* loaded by this transaction */
	int64		pending;		/* this transaction's through */
	SubTransactionId loaded_in; /* subtransaction of this transaction's last load */
	bool		poisoned;		/* an enclosing subtransaction rolled back */
};

static MemoryContext cache_cxt = NULL;
static dlist_head lru = DLIST_STATIC_INIT(lru);
static int	nentries = 0;

static void
drop_entry(WfHistCacheEntry *e)
{
	dlist_delete(&e->node);
	MemoryContextDelete(e->mcxt);
	pfree(e->workflow_id);
	pfree(e);
	nentries--;
}

/* Forget what the entry holds: the next load reads the whole history. */
static void
empty_entry(WfHistCacheEntry *e)
{
	MemoryContextReset(e->mcxt);
	e->cmds = NULL;
	e->ncmds = 0;
	e->through = 0;
	e->pending = 0;
}

/* Make room for one more entry: drop the least recently used ones. */
static void
make_room(void)
{
	while (nentries > 0 &&
		   (nentries >= HIST_CACHE_RUNS ||
			MemoryContextMemAllocated(cache_cxt, true) > HIST_CACHE_BYTES))
		drop_entry(dlist_container(WfHistCacheEntry, node, dlist_tail_node(&lru)));
}

static WfHistCacheEntry *
find_entry(const char *workflow_id, Datum run_id)
{
	dlist_iter	it;

	dlist_foreach(it, &lru)
	{
		WfHistCacheEntry *e = dlist_container(WfHistCacheEntry, node, it.cur);

		if (memcmp(e->run_id, DatumGetPointer(run_id), UUID_LEN) == 0 &&
			strcmp(e->workflow_id, workflow_id) == 0)
			return e;
	}
	return NULL;
}

/*
 * The cache entry of a run this transaction holds the row lock of, most
 * recently used from now on, created empty if there is none.  Its
 * commands are valid through wf_hist_cache_through(); an entry that does
 * not fit the run's row (last_event_id, counting this transaction's
 * appended events) is emptied first.
 */
WfHistCacheEntry *
wf_hist_cache_get(WfRun *run)
{
	WfHistCacheEntry *e = find_entry(run->workflow_id, run->run_id);

	if (e == NULL)
	{
		if (cache_cxt == NULL)
			cache_cxt = AllocSetContextCreate(TopMemoryContext, "workflow history cache",
											  ALLOCSET_DEFAULT_SIZES);
		make_room();
		e = MemoryContextAllocZero(cache_cxt, sizeof(WfHistCacheEntry));
		e->workflow_id = MemoryContextStrdup(cache_cxt, run->workflow_id);
		memcpy(e->run_id, DatumGetPointer(run->run_id), UUID_LEN);
		e->mcxt = AllocSetContextCreate(cache_cxt, "workflow history cache entry",
										ALLOCSET_SMALL_SIZES);
		dlist_push_head(&lru, &e->node);
		nentries++;
	}
	else
		dlist_move_head(&lru, &e->node);

	if (e->poisoned || wf_hist_cache_through(e) > run->last_event_id)
		empty_entry(e);
	/* From here on the entry may change: a rollback must find it touched. */
	e->pending = wf_hist_cache_through(e);
	e->touched = true;
	e->poisoned = false;
	e->loaded_in = GetCurrentSubTransactionId();
	return e;
}

/* The last event id the entry's commands include (this transaction's view). */
int64
wf_hist_cache_through(WfHistCacheEntry *e)
{
	return e->touched ? e->pending : e->through;
}

/* The entry's commands and the context to grow them in. */
void
wf_hist_cache_commands(WfHistCacheEntry *e, WfHistCmd **cmds, int *ncmds, MemoryContext *mcxt)
{
	*cmds = e->cmds;
	*ncmds = e->ncmds;
	*mcxt = e->mcxt;
}

/*
 * The entry now holds the commands of events 1 .. through, as this
 * transaction sees them; they count for other transactions once it
 * commits.
 */
void
wf_hist_cache_loaded(WfHistCacheEntry *e, WfHistCmd *cmds, int ncmds, int64 through)
{
	e->cmds = cmds;
	e->ncmds = ncmds;
	e->pending = through;
	e->loaded_in = GetCurrentSubTransactionId();
}

/*
 * A subtransaction rolled back: an entry loaded inside it (or inside a
 * subtransaction it enclosed) may hold events it took back.
 */
void
wf_hist_cache_at_subabort(SubTransactionId subid)
{
	dlist_iter	it;

	dlist_foreach(it, &lru)
	{
		WfHistCacheEntry *e = dlist_container(WfHistCacheEntry, node, it.cur);

		if (e->touched && subid <= e->loaded_in)
			e->poisoned = true;
	}
}

/*
 * Transaction end: at a commit, what it loaded counts; otherwise (and for
 * a poisoned entry) the entries it touched are dropped.
 */
void
wf_hist_cache_at_end(bool commit)
{
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &lru)
	{
		WfHistCacheEntry *e = dlist_container(WfHistCacheEntry, node, it.cur);

		if (!e->touched)
			continue;
		if (commit && !e->poisoned)
		{
			e->through = e->pending;
			e->touched = false;
		}
		else
			drop_entry(e);
	}
}
