/*-------------------------------------------------------------------------
 * cron.c
 *	  Schedule specs and their fire times: five-field cron expressions,
 *	  the @ macros and "every <interval>", read once into a WfCron, and
 *	  the next fire time after an instant in a time zone.
 *
 * Cron fields are minute (0-59), hour (0-23), day of month (1-31), month
 * (1-12 or jan-dec) and day of week (0-7 or sun-sat, 0 and 7 both
 * Sunday); each a comma list of "*", "n", "n-m", with an optional "/step"
 * ("n/step" is "n-max/step").  As in Vixie cron, when both day fields are
 * restricted (neither starts with "*") a day matches either.
 *
 * Fire times are wall-clock times in the schedule's time zone, found
 * with PostgreSQL's own zone data (pg_localtime).  Daylight saving time:
 * - a wall time that does not exist (the hour skipped when clocks go
 *   forward) fires at the instant it names in the offset in force before
 *   the change, i.e. shifted forward by the gap: a 02:30 job in
 *   Europe/Berlin fires at 03:30 CEST on that day (as PostgreSQL reads
 *   such times, and as Temporal does);
 * - a wall time that happens twice (the hour repeated when clocks go
 *   back) fires once, at its first occurrence.
 * "every <interval>" fires at the multiples of the interval since the
 * Unix epoch (1970-01-01 00:00 UTC), as Temporal's interval specs do; the
 * time zone does not apply to it, and the interval may not have months.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/datetime.h"

#include "core/core.h"

/* How far ahead a cron spec is searched for its next match, in days. */
#define CRON_HORIZON_DAYS (366 * 9)
/* Wall-clock window looked back over when a transition is near, in us. */
#define DST_WINDOW (3 * USECS_PER_HOUR)

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

/* One cron field: its name, bounds, and names (value of names[0]: first). */
typedef struct CronField
{
	const char *name;
	int			min;
	int			max;
	const char *const *names;
	int			first;
} CronField;

static const CronField cron_fields[5] = {
	{"minute", 0, 59, NULL, 0},
	{"hour", 0, 23, NULL, 0},
	{"day of month", 1, 31, NULL, 0},
	{"month", 1, 12, month_names, 1},
	{"day of week", 0, 7, day_names, 0},
};

static const struct
{
	const char *name;
	const char *cron;
}			cron_macros[] = {
	{"@yearly", "0 0 1 1 *"},
	{"@annually", "0 0 1 1 *"},
	{"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"},
	{"@daily", "0 0 * * *"},
	{"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

/* Refuse spec, saying what is wrong with it (detail). */
static void
bad_spec(const char *spec, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid schedule spec \"%s\"", spec),
			 errdetail("%s", detail),
			 errhint("Use five cron fields (minute hour day-of-month month day-of-week) such as "
					 "\"*/15 9-17 * * 1-5\", a macro such as \"@daily\", or \"every 10 minutes\".")));
}

/* One number or name of field f at *p, advancing *p. */
static int
field_value(const char **p, const CronField *f, const char *spec)
{
	const char *s = *p;
	long		v = 0;

	if (isalpha((unsigned char) *s) && f->names)
	{
		const char *const *n;

		for (n = f->names; *n; n++)
			if (pg_strncasecmp(s, *n, 3) == 0 && !isalpha((unsigned char) s[3]))
			{
				*p = s + 3;
				return f->first + (n - f->names);
			}
		bad_spec(spec, psprintf("The %s field has an unknown name at \"%s\".", f->name, s));
	}
	if (!isdigit((unsigned char) *s))
		bad_spec(spec, psprintf("The %s field expects a number at \"%s\".", f->name, s));
	while (isdigit((unsigned char) *s) && v <= f->max)
		v = v * 10 + (*s++ - '0');
	if (v < f->min || v > f->max)
		bad_spec(spec, psprintf("The %s field allows %d to %d.", f->name, f->min, f->max));
	*p = s;
	return (int) v;
}

/*
 * One item of field f ("*", "n", "n-m", each with an optional "/step")
 * at *p into *bits, advancing *p.
 */
static void
field_item(const char **p, const CronField *f, uint64 *bits, const char *spec)
{
	int			lo = f->min;
	int			hi = f->max;
	int			step = 1;
	int			v;

	if (**p == '*')
		(*p)++;
	else
	{
		lo = hi = field_value(p, f, spec);
		if (**p == '-')
		{
			(*p)++;
			hi = field_value(p, f, spec);
			if (hi < lo)
				bad_spec(spec, psprintf("The %s range %d-%d goes backwards.", f->name, lo, hi));
		}
		else if (**p == '/')
			hi = f->max;
	}
	if (**p == '/')
	{
		const CronField stepf = {f->name, 1, f->max - f->min + 1, NULL, 0};

		(*p)++;
		step = field_value(p, &stepf, spec);
	}
	for (v = lo; v <= hi; v += step)
		*bits |= UINT64CONST(1) << v;
}

/* Field f of a cron spec (text up to its end, a NUL) as bits of its values. */
static uint64
parse_field(const char *text, const CronField *f, const char *spec)
{
	const char *p = text;
	uint64		bits = 0;

	for (;;)
	{
		field_item(&p, f, &bits, spec);
		if (*p == '\0')
			return bits;
		if (*p != ',')
			bad_spec(spec, psprintf("The %s field has \"%s\" where a comma or its end was expected.",
									f->name, p));
		p++;
	}
}

/* A five-field cron expression (macros expanded) into cron. */
static void
parse_cron(const char *expr, const char *spec, WfCron *cron)
{
	char	   *copy = pstrdup(expr);
	char	   *fields[5];
	char	   *tok;
	char	   *save;
	int			n = 0;
	uint64		dow;

	for (tok = strtok_r(copy, " \t\n", &save); tok && n < 5; tok = strtok_r(NULL, " \t\n", &save))
		fields[n++] = tok;
	if (tok != NULL)
		bad_spec(spec, "A cron spec has five fields, not more.");
	if (n != 5)
		bad_spec(spec, psprintf("A cron spec has five fields, not %d.", n));
	cron->minutes = parse_field(fields[0], &cron_fields[0], spec);
	cron->hours = (uint32) parse_field(fields[1], &cron_fields[1], spec);
	cron->days = (uint32) parse_field(fields[2], &cron_fields[2], spec);
	cron->months = (uint32) parse_field(fields[3], &cron_fields[3], spec);
	dow = parse_field(fields[4], &cron_fields[4], spec);
	if (dow & (1 << 7))
		dow |= 1;				/* 7 is Sunday too */
	cron->weekdays = (uint32) (dow & 0x7f);
	cron->any_day = fields[2][0] == '*';
	cron->any_weekday = fields[4][0] == '*';
}

/* "every <interval>": a fixed period without months, at least a second. */
static void
parse_every(const char *text, const char *spec, WfCron *cron)
{
	Interval   *iv = wf_parse_interval(text, "the schedule's interval");

	if (iv->month != 0)
		bad_spec(spec, "An interval of \"every\" cannot have months or years (their length varies); "
				 "use a cron spec such as \"0 0 1 * *\".");
	cron->period = iv->day * USECS_PER_DAY + iv->time;
	if (cron->period < USECS_PER_SEC)
		bad_spec(spec, "The interval of \"every\" must be at least one second.");
	cron->every = true;
}

/* Read a schedule spec; a malformed one is refused with a clear error. */
void
wf_cron_parse(const char *spec, WfCron *cron)
{
	const char *s = spec;
	int			i;

	memset(cron, 0, sizeof(WfCron));
	while (isspace((unsigned char) *s))
		s++;
	if (pg_strncasecmp(s, "every", 5) == 0 && isspace((unsigned char) s[5]))
	{
		parse_every(s + 6, spec, cron);
		return;
	}
	if (*s == '@')
	{
		for (i = 0; i < lengthof(cron_macros); i++)
			if (pg_strcasecmp(s, cron_macros[i].name) == 0)
			{
				parse_cron(cron_macros[i].cron, spec, cron);
				return;
			}
		bad_spec(spec, "Known macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly.");
	}
	parse_cron(s, spec, cron);
}

/* A time zone by name, as AT TIME ZONE knows it; refused if unknown. */
pg_tz *
wf_time_zone(const char *name)
{
	pg_tz	   *tz = name[0] ? pg_tzset(name) : NULL;

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name),
				 errhint("Use a name from pg_timezone_names, such as \"UTC\" or \"Europe/Berlin\".")));
	return tz;
}

/* The local time of instant t in tz (the offset in tm_gmtoff, seconds east). */
static struct pg_tm *
local_time(pg_tz *tz, TimestampTz t)
{
	pg_time_t	tt = timestamptz_to_time_t(t);
	struct pg_tm *tm = pg_localtime(&tt, tz);

	if (tm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errhint("Keep schedule times (start_at, end_at, backfill ranges) to finite dates.")));
	return tm;
}

/* The UTC offset of tz at instant t, in microseconds. */
static int64
utc_offset(pg_tz *tz, TimestampTz t)
{
	return (int64) local_time(tz, t)->tm_gmtoff * USECS_PER_SEC;
}

/*
 * The instant of a wall-clock time (a timestamp without time zone) in tz:
 * its first occurrence if it happens twice, and if it does not exist (a
 * gap), the instant it names in the offset in force before the change.
 */
static TimestampTz
wall_to_instant(pg_tz *tz, Timestamp wall)
{
	int64		before = utc_offset(tz, wall - USECS_PER_DAY);
	int64		after = utc_offset(tz, wall + USECS_PER_DAY);
	TimestampTz t_before = wall - before;
	TimestampTz t_after = wall - after;
	bool		ok_before = utc_offset(tz, t_before) == before;
	bool		ok_after = utc_offset(tz, t_after) == after;

	if (ok_before && ok_after)
		return Min(t_before, t_after);
	return ok_after ? t_after : t_before;
}

/* Does the day of Julian day number jd match the cron's day fields? */
static bool
day_matches(const WfCron *cron, int jd)
{
	int			y,
				m,
				d;
	bool		dom;
	bool		dow;

	j2date(jd, &y, &m, &d);
	if (!(cron->months & (1 << m)))
		return false;
	dom = (cron->days & (1 << d)) != 0;
	dow = (cron->weekdays & (1 << j2day(jd))) != 0;
	if (cron->any_day && cron->any_weekday)
		return true;
	if (cron->any_day)
		return dow;
	if (cron->any_weekday)
		return dom;
	return dom || dow;
}

/*
 * The next wall-clock minute matching cron strictly after the minute
 * *minute (of the day) of Julian day *jd; false if none within the horizon.
 */
static bool
next_wall_minute(const WfCron *cron, int *jd, int *minute)
{
	int			m = *minute + 1;
	int			days;

	for (days = 0; days <= CRON_HORIZON_DAYS; days++, (*jd)++, m = 0)
	{
		int			h;

		if (m >= MINS_PER_HOUR * HOURS_PER_DAY || !day_matches(cron, *jd))
			continue;
		for (h = m / MINS_PER_HOUR; h < HOURS_PER_DAY; h++)
		{
			int			from = (h == m / MINS_PER_HOUR) ? m % MINS_PER_HOUR : 0;
			uint64		bits = cron->minutes >> from;

			if (!(cron->hours & (1 << h)) || bits == 0)
				continue;
			*minute = h * MINS_PER_HOUR + from + pg_rightmost_one_pos64(bits);
			return true;
		}
	}
	return false;
}

/* "every": the next multiple of the period since the Unix epoch after t. */
static TimestampTz
every_next(const WfCron *cron, TimestampTz after)
{
	int64		epoch = (UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
	int64		since = after - epoch;
	int64		k = since / cron->period;

	if (since < 0 && since % cron->period != 0)
		k--;					/* floor */
	return epoch + (k + 1) * cron->period;
}

/*
 * The first fire time of cron strictly after the instant after, in time
 * zone tz; 0 if it never fires again (within CRON_HORIZON_DAYS).
 *
 * Wall-clock minutes are walked in order from the local time of after,
 * and the first whose instant is later than after is the answer.  Near a
 * transition the walk starts DST_WINDOW earlier: a skipped minute before
 * after's local time may name an instant after it.
 */
TimestampTz
wf_cron_next(const WfCron *cron, pg_tz *tz, TimestampTz after)
{
	TimestampTz from = after;
	struct pg_tm *tm;
	int			jd;
	int			minute;
	int			i;

	if (cron->every)
		return every_next(cron, after);
	if (utc_offset(tz, after - DST_WINDOW) != utc_offset(tz, after))
		from = after - DST_WINDOW;
	tm = local_time(tz, from);
	jd = date2j(tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday);
	minute = tm->tm_hour * MINS_PER_HOUR + tm->tm_min - 1;	/* that minute counts */
	for (i = 0; i < 2 * MINS_PER_HOUR * HOURS_PER_DAY; i++)
	{
		TimestampTz t;

		if (!next_wall_minute(cron, &jd, &minute))
			return 0;
		t = wall_to_instant(tz, (Timestamp) (jd - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY +
							minute * USECS_PER_MINUTE);
		if (t > after)
			return t;
	}
	return 0;
}

/* An instant as ISO 8601 in UTC: 2025-03-30T01:30:00Z (with .ffffff if any). */
char *
wf_iso_utc(TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(t) || timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errhint("Keep schedule times (start_at, end_at, backfill ranges) to finite dates.")));
	if (fsec != 0)
		return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year, tm.tm_mon, tm.tm_mday,
						tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec);
}
