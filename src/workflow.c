/*-------------------------------------------------------------------------
 * workflow.c
 *	  Module entry point, above every layer: settings, shared memory, the
 *	  utility hook and the transaction callbacks, each of which only calls
 *	  the end-of-transaction function of every layer that keeps state.
 *	  The layers are described in src/README.md.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "bgw/bgw.h"

PG_MODULE_MAGIC;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);

/* Ask for our shared memory and lock. */
static void
wf_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(wf_shmem_size());
	RequestAddinShmemSpace(wf_flow_shmem_size());
	RequestAddinShmemSpace(wf_await_shmem_size());
	RequestAddinShmemSpace(wf_sessions_shmem_size());
	RequestNamedLWLockTranche("workflow", 1);
	RequestNamedLWLockTranche("workflow flow control", 1);
}

/* Create or attach to our shared memory. */
static void
wf_shmem_startup_hook(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	wf_shmem_startup();
	wf_flow_shmem_startup();
	wf_await_shmem_startup();
	wf_sessions_shmem_startup();
}

/* workflow.default_queue must be a valid queue name. */
static bool
check_default_queue(char **newval, void **extra, GucSource source)
{
	const char *detail;
	const char *hint;

	if (wf_queue_name_ok(*newval, &detail, &hint))
		return true;
	GUC_check_errmsg("invalid queue name \"%s\"", *newval);
	GUC_check_errdetail("%s", detail);
	GUC_check_errhint("%s", hint);
	return false;
}

/*
 * workflow.search_path must be a non-empty list of identifiers, as
 * search_path itself parses it, of bounded length.
 */
static bool
check_code_search_path(char **newval, void **extra, GucSource source)
{
	char	   *copy;
	List	   *names;
	bool		ok;

	if (strlen(*newval) > WF_MAX_SEARCH_PATH)
	{
		GUC_check_errdetail("The value is longer than %d bytes.", WF_MAX_SEARCH_PATH);
		GUC_check_errhint("Name fewer schemas.");
		return false;
	}
	copy = pstrdup(*newval);
	ok = SplitIdentifierString(copy, ',', &names) && names != NIL;
	list_free(names);
	pfree(copy);
	if (!ok)
	{
		GUC_check_errdetail("It must be a comma-separated list of schema names.");
		GUC_check_errhint("Write it as search_path is written, e.g. '\"$user\", public'.");
		return false;
	}
	return true;
}

/* Define the workflow.* settings. */
static void
define_settings(void)
{
	DefineCustomIntVariable("workflow.batch_size",
							"Due items the scheduler handles per transaction, per kind.",
							NULL, &wf_batch_size, 100, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("workflow.max_naptime",
							"Longest the scheduler sleeps when nothing is due.",
							NULL, &wf_max_naptime_ms, 10000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("workflow.launcher_naptime",
							"How often the launcher looks for new databases.",
							NULL, &wf_launcher_naptime_ms, 10000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("workflow.task_retry_initial",
							"Delay before retrying a failed workflow task the first time.",
							"It doubles with each failure, up to workflow.task_retry_max.",
							&wf_task_retry_initial_ms, 1000, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("workflow.task_retry_max",
							"Longest delay between retries of a failed workflow task.",
							NULL, &wf_task_retry_max_ms, 600000, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("workflow.default_start_to_close_timeout",
							"Activity start_to_close_timeout when none is given.",
							NULL, &wf_default_timeout_ms, 300000, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("workflow.task_timeout",
							"Longest a workflow task (one run of workflow code) may take.",
							"Past it the attempt is cancelled and recorded as a failed workflow task, "
							"retried with backoff. 0 turns the limit off.",
							&wf_task_timeout_ms, 10000, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("workflow.search_path",
							   "search_path workflow code runs with, wherever it runs.",
							   NULL, &wf_code_search_path, "\"$user\", public",
							   PGC_SUSET, 0, check_code_search_path, NULL, NULL);
	DefineCustomStringVariable("workflow.default_queue",
							   "Task queue of workflows started without a queue option.",
							   NULL, &wf_default_queue, "default",
							   PGC_SIGHUP, 0, check_default_queue, NULL, NULL);
	DefineCustomIntVariable("workflow.max_workers",
							"Scheduler processes per database that do due work in parallel.",
							NULL, &wf_max_workers, 2, 1, WF_MAX_WORKERS,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("workflow.replay_check",
							 "What CREATE or ALTER FUNCTION of a workflow type's function does "
							 "when running workflows would not replay with the new code.",
							 "off: nothing is checked; warning: a WARNING per such run; "
							 "error: an ERROR that undoes the command.",
							 &wf_replay_check_mode, WF_REPLAY_CHECK_WARNING, wf_replay_check_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("workflow.replay_check_runs",
							"Running workflows the DDL gate replays per changed workflow type.",
							"0 turns the gate off.",
							&wf_replay_check_runs, 100, 0, 100000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("workflow.session_leases",
							 "Bind the tasks a session claims to that session.",
							 "When the session ends before reporting, its tasks fail at once "
							 "(worker session ended) and are retried. Turn it off for workers "
							 "that claim through a transaction-pooling proxy.",
							 &wf_session_leases, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("workflow.retention",
							"How long closed runs are kept before the scheduler deletes them.",
							"0 keeps them forever. A workflow type's option retention overrides it.",
							&wf_retention_s, 0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	/* Sizes shared memory: only when preloaded (later it would be FATAL). */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("workflow.max_databases",
								"Databases with the extension that the launcher can serve.",
								NULL, &wf_max_databases, 64, 1, 10000,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("workflow");
}

/*
 * Transaction end.  Before commit, every buffered event must be written
 * and a claim-only transaction may skip waiting for its flush; at commit
 * the announcements go out; at any end each layer forgets what it kept
 * for this transaction.
 */
static void
wf_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			wf_history_at_pre_commit();
			wf_notify_at_pre_commit();
			return;
		case XACT_EVENT_PRE_PREPARE:
			wf_flow_at_pre_prepare();
			return;
		case XACT_EVENT_PREPARE:
			wf_hist_cache_at_end(false);
			return;
		case XACT_EVENT_COMMIT:
			wf_hist_cache_at_end(true);
			wf_notify_at_commit();
			wf_flow_at_end(true);
			wf_await_at_commit();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wf_hist_cache_at_end(false);
			wf_flow_at_end(false);
			break;
		default:
			return;
	}
	wf_notify_at_end();
	wf_await_at_end();
	wf_wakeups_at_end();
	wf_history_at_end();
	wf_replay_at_end();
	wf_forget_type();
	wf_forget_schema_version();
	wf_set_now(0);
}

/*
 * Subtransaction end: a rolled-back savepoint takes back its events,
 * wake-ups and announcements; a committed one hands them to its parent.
 */
static void
wf_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	bool		commit;

	if (event == SUBXACT_EVENT_ABORT_SUB)
		commit = false;
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		commit = true;
	else
		return;
	if (!commit)
	{
		wf_history_at_subabort(mySubid);
		wf_hist_cache_at_subabort(mySubid);
		wf_forget_type();
	}
	wf_wakeups_at_subend(mySubid, parentSubid, commit);
	wf_notify_at_subend(mySubid, parentSubid, commit);
}

/* Module load. */
void
_PG_init(void)
{
	if (IsBinaryUpgrade)
		return;
	define_settings();
	RegisterXactCallback(wf_xact_callback, NULL);
	RegisterSubXactCallback(wf_subxact_callback, NULL);
	wf_utility_hook_init();
	if (!process_shared_preload_libraries_in_progress)
		return;

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = wf_shmem_request;
#else
	wf_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = wf_shmem_startup_hook;
	wf_scheduler_register();
}
