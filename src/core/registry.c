/*-------------------------------------------------------------------------
 * registry.c
 *	  The registry of workflow types: the function (or declarative saga) and
 *	  default options a type names.  Registration itself is a client
 *	  function (api/client.c); this file reads it, once per transaction
 *	  for the type read last, forgetting it at the end of every
 *	  transaction and rolled-back savepoint.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/memutils.h"

#include "core/core.h"

static SPIPlanPtr type_plan;
static SPIPlanPtr changed_types_plan;

/* The registration read last in this transaction (wf_lookup_type). */
static WfType *last_type = NULL;

/*
 * The registration of a type, or NULL.  The last one read is kept for the
 * rest of the transaction (registering a type forgets it), so that a start
 * and the workflow task it runs read the registry once.
 */
WfType *
wf_lookup_type(const char *type)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(type)};
	MemoryContext old;
	bool		isnull;
	Datum		fn;

	if (last_type != NULL && strcmp(last_type->name, type) == 0)
		return last_type;
	if (wf_exec(&type_plan,
				"SELECT fn, steps, options FROM workflow.workflow_types WHERE workflow_type = $1",
				1, types, values, NULL, 1) == 0)
		return NULL;
	old = MemoryContextSwitchTo(TopTransactionContext);
	last_type = palloc0(sizeof(WfType));
	last_type->name = pstrdup(type);
	fn = wf_get_datum(0, 1, &isnull);
	last_type->fn = isnull ? InvalidOid : DatumGetObjectId(fn);
	last_type->steps = wf_get_jsonb(0, 2);
	last_type->options = wf_get_jsonb(0, 3);
	MemoryContextSwitchTo(old);
	return last_type;
}

/* Forget the kept registration (at transaction end, or when it changes). */
void
wf_forget_type(void)
{
	last_type = NULL;			/* freed with TopTransactionContext */
}

/* The registered options of a type; errors if it is not registered. */
Jsonb *
wf_type_options(const char *type)
{
	WfType	   *t = wf_lookup_type(type);

	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("workflow type \"%s\" is not registered", type),
				 errhint("Register it with workflow.register_workflow() or workflow.register_saga().")));
	return t->options;
}

/*
 * In an event trigger at ddl_command_end: the workflow types whose
 * function the command created, replaced or altered (a list of names,
 * usually empty).  One query joining the command's objects with the
 * registry, whatever the function: that is all an unrelated CREATE
 * FUNCTION pays.
 */
List *
wf_types_of_changed_functions(void)
{
	List	   *names = NIL;
	int			n,
				i;

	n = wf_exec(&changed_types_plan,
				"SELECT t.workflow_type FROM pg_catalog.pg_event_trigger_ddl_commands() c"
				" JOIN workflow.workflow_types t"
				"   ON t.fn::pg_catalog.oid OPERATOR(pg_catalog.=) c.objid"
				" WHERE c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass"
				" ORDER BY 1",
				0, NULL, NULL, NULL, 0);
	for (i = 0; i < n; i++)
		names = lappend(names, wf_get_text(i, 1));
	return names;
}
