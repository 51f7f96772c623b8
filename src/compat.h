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

/* Infinite intervals exist from PostgreSQL 17 on. */
#ifndef INTERVAL_NOT_FINITE
#define INTERVAL_NOT_FINITE(i) false
#endif

#endif							/* WF_COMPAT_H */
