/*
 * agg.h - the aggregator of chorus-stats: a pure function from parsed
 * log records (plus their node) to statistics. It holds every count the
 * report shows: totals, days (with hours and status codes), nodes (with
 * their days and top paths), the ranked tables overall and per day, the
 * exact visitor sets, and the malformed-line counts and examples.
 *
 * Memory is bounded by the limits in struct agg_limits (see
 * chorus-stats(1), MEMORY AND STATE). No I/O, no clock, no globals.
 * Ownership: agg_init() allocates; agg_free() releases everything.
 */
#ifndef CHORUS_STATS_AGG_H
#define CHORUS_STATS_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "stats/agent.h"
#include "stats/filter.h"
#include "stats/logfmt.h"
#include "stats/release.h"
#include "stats/tab.h"
#include "stats/vset.h"

enum agg_table {
	T_PATHS, T_DIRS, T_STATIC, T_PAGES, T_NOTFOUND, T_NFREF, T_REFERRERS, T_SITES,
	T_BROWSERS, T_OS, T_TOOLS, T_CRAWLERS, T_CLASSES, T_AGENTS, T_RELEASES, T__COUNT
};

extern const char *const agg_table_name[T__COUNT];
extern const char *const agg_table_title[T__COUNT];
extern const char *const agg_table_key[T__COUNT];

struct agg_counts {
	uint64_t requests, bytes, visitors, pages, statics;
	uint64_t s2, s3, s4, s5, sother, not_found;
};

struct agg_day {
	int32_t day;   /* days since 1970-01-01 */
	int32_t date;  /* yyyymmdd */
	uint8_t closed; /* visitor set dropped, tables cut to day_top */
	struct agg_counts c;
	uint64_t hreq[24], hbytes[24];
	uint64_t status_req[1000];    /* requests by status code (0: none) */
	struct tab tabs[T__COUNT];
	struct vset vis;              /* the day's visitors while open */
};

struct agg_nday {
	int32_t day;
	struct agg_counts c;
};

struct agg_node {
	char name[65];
	uint8_t name_len;
	struct agg_counts c;
	struct agg_nday *days; /* sorted by day */
	uint32_t ndays, adays;
	struct tab paths;
};

struct agg_limits {
	uint32_t top, day_top, node_top;
	uint32_t capacity, day_capacity, node_capacity;
	uint32_t window_days;
	uint32_t open_days_max; /* days whose visitor sets are kept at once */
	int visitors_4xx;       /* 4xx responses count as visits (GoAccess's
				   --4xx-to-unique-count); else they do not */
	uint32_t agents_max;  /* distinct agent strings with an exact id */
	uint32_t hosts_max;   /* distinct addresses counted exactly */
	uint32_t nodes_max;
};

#define AGG_EXAMPLES 20
#define AGG_EXAMPLE_LEN 300

struct agg_example {
	char source[160];
	int reason;
	char line[AGG_EXAMPLE_LEN + 1];
};

/* The tables an agent is counted in, and where: AR_G (overall) and AR_D
 * (the current day's). */
enum { AT_CLASS, AT_NAME, AT_OS, AT_AGENT, AT__COUNT };
enum { AR_G, AR_D };

struct agg_agent {
	uint8_t cls;
	const char *name; /* static strings of agent.c */
	const char *os;
	uint64_t h_ua, h_class, h_name, h_os; /* their tab_hash() */
	struct tab_ref ref[2][AT__COUNT];
};

/* What a path's line adds to, derived once per distinct path and kept in
 * a direct-mapped cache of AGG_PCACHE entries (paths of up to AGG_PC_KEY
 * bytes; longer ones are derived on every line). The key is compared in
 * full: the cache never confuses two paths. */
#define AGG_PCACHE 8192
#define AGG_PC_KEY 200
enum { PT_PATHS, PT_PGST, PT_DIRS, PT_NOTFOUND, PT_RELEASES, PT__COUNT };

struct agg_path {
	uint64_t hash, dir_hash;
	uint32_t len, dir_len;  /* len 0: empty entry */
	uint8_t page;           /* a page, not a static file */
	uint8_t rel;            /* a release pattern matched (m) */
	struct rl_match m;      /* pointing into key and the patterns */
	struct tab_ref ref[2][PT__COUNT], node;
	char key[AGG_PC_KEY];
};

struct agg {
	struct agg_limits lim;
	struct rl_set rel;
	unsigned have;            /* fields of the log format (lf_format.have) */
	struct agg_counts tot;
	uint64_t hours_req[24], hours_bytes[24], hours_vis[24];
	uint64_t status_req[1000], status_bytes[1000];
	struct agg_day **days;    /* sorted by day */
	uint32_t ndays, adays;
	int32_t newest_day;       /* INT32_MIN while none */
	int32_t horizon;          /* oldest day inputs still to read may hold
				     (agg_set_horizon); INT32_MAX: none */
	int32_t cur_newest;       /* newest day of the current input */
	uint32_t nopen;           /* days not closed */
	struct agg_node *nodes;
	uint32_t nnodes;
	struct tab tabs[T__COUNT];
	struct tab agents;        /* agent string -> exact id (entry index) */
	struct agg_agent *agent_info; /* by agent id */
	uint32_t nagent_info;
	struct hset hosts;        /* distinct client addresses */
	uint64_t hosts_over;      /* lines of addresses not counted: set was full */
	uint64_t host_hashed;     /* long host names identified by hash */
	uint64_t agent_overflow;
	uint64_t late_lines;
	uint64_t lines, bytes_read, filtered_out, nodes_over;
	uint64_t malformed, reasons[LF_R__COUNT];
	struct agg_example ex[AGG_EXAMPLES];
	uint32_t nex;
	/* the last day and node looked up (logs come in order) */
	uint32_t last_day_i, last_node_i;
	struct agg_path *pcache; /* AGG_PCACHE entries */
	uint32_t gens;           /* generations of the tables (tab_enable_refs) */
};

/* Fills the classification of agent i (after its entry was added).
 * Returns 0 or -1 (memory). */
int agg_agent_classify(struct agg *a, uint32_t i);

void agg_default_limits(struct agg_limits *l);
/* Returns 0 or -1 (memory). */
int agg_init(struct agg *a, const struct agg_limits *lim, const struct rl_set *rel,
	     unsigned have);
void agg_free(struct agg *a);

/* Counts one parsed line of node (node_len bytes). Returns 0, or -1 when
 * memory ran out. */
int agg_add(struct agg *a, const struct lf_rec *r, const char *node, size_t node_len);
/* Counts a line that could not be parsed (reason: enum lf_reason). */
void agg_malformed(struct agg *a, int reason, const char *source, uint64_t lineno,
		   const char *line, size_t len);

/* Looks a day up (creating it when create); NULL if absent or memory ran
 * out. Used by the state loader too. */
struct agg_day *agg_day_get(struct agg *a, int32_t day, int create);
struct agg_node *agg_node_get(struct agg *a, const char *name, size_t len, int create);
struct agg_nday *agg_nday_get(struct agg_node *n, int32_t day, int create);
/* Closes the days older than the visitor window: window_days before the
 * newest day of the current input or before the horizon, whichever is
 * older; then the oldest open days while more than open_days_max are
 * open. Returns 0 or -1 (memory). */
int agg_close_old(struct agg *a);
/* Starts a new input: the inputs after it hold no line dated before day
 * (INT32_MAX: none left), so the days before it, less the window, may
 * close as this input advances (INT32_MIN keeps every day open). The
 * shell reads its inputs in the order of their first dates and calls
 * this before each one: node-by-node globs then count visitors exactly.
 * Without it (live mode) the stream read is one input. */
int agg_set_horizon(struct agg *a, int32_t day);

#endif
