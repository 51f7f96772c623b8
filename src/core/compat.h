/*-------------------------------------------------------------------------
 * compat.h
 *	  PG_VERSION_NUM shims, in one place.
 *-------------------------------------------------------------------------
 */
#ifndef WF_COMPAT_H
#define WF_COMPAT_H

#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/*
 * Walking this backend's PROCLOCKs of lock partition i: a SHM_QUEUE up to
 * PostgreSQL 15, a dlist from 16 on.  Declare the iterator with
 * WF_PROCLOCK_ITER_DECL; hold the partition lock.
 */
#if PG_VERSION_NUM >= 160000
#define WF_PROCLOCK_ITER_DECL dlist_iter wf_proclock_iter
#define WF_FOREACH_MY_PROCLOCK(i, proclock) \
	dlist_foreach(wf_proclock_iter, &MyProc->myProcLocks[(i)]) \
		if (((proclock) = dlist_container(PROCLOCK, procLink, wf_proclock_iter.cur)) != NULL)
#else
#define WF_PROCLOCK_ITER_DECL SHM_QUEUE *wf_proclock_head
#define WF_FOREACH_MY_PROCLOCK(i, proclock) \
	for (wf_proclock_head = &MyProc->myProcLocks[(i)], \
		 (proclock) = (PROCLOCK *) SHMQueueNext(wf_proclock_head, wf_proclock_head, \
												offsetof(PROCLOCK, procLink)); \
		 (proclock) != NULL; \
		 (proclock) = (PROCLOCK *) SHMQueueNext(wf_proclock_head, &(proclock)->procLink, \
												offsetof(PROCLOCK, procLink)))
#endif

/*
 * object_aclcheck() from PostgreSQL 16 on; before, one function per catalog.
 * Only functions are checked here (the class id is checked at compile time).
 */
#if PG_VERSION_NUM < 160000
#define object_aclcheck(classid, objectid, roleid, mode) \
	(StaticAssertExpr((classid) == ProcedureRelationId, \
					  "object_aclcheck shim: functions only"), \
	 pg_proc_aclcheck((objectid), (roleid), (mode)))
#endif

/*
 * pg_noreturn, written before the declaration, from PostgreSQL 18 on (where
 * pg_attribute_noreturn() is gone); before, the attribute in that place.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/* Infinite intervals exist from PostgreSQL 17 on. */
#ifndef INTERVAL_NOT_FINITE
#define INTERVAL_NOT_FINITE(i) false
#endif

#endif							/* WF_COMPAT_H */
