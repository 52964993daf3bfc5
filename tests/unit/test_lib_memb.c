/*
 * test_lib_memb.c - libchorus: the membership-body parsers (spec section
 * 5.8; checklist items 42 to 46; defects L8 and L11), contiguous and
 * scatter, over every way of splitting a body into elements.
 */
#include "lib_fake.h"

static uint8_t join_body[56], merge_body[124], trans_body[12];

/* The bodies of spec sections 5.2, 5.3 and 5.7, in host order. */
static void bodies(void)
{
	static const int32_t gj[3] = { 0x7f000001, 0x6b0748e1, 1 };
	static const int32_t gm[3] = { 0x0a630001, 0x6b074c4d, 1 };
	static const uint32_t one = 1, two[2] = { 2, 1 };
	char n1[1][MAX_GROUP_NAME], n3[3][MAX_GROUP_NAME];
	static const char *const s1[] = { "#alice#localhost" };
	static const char *const s3[] = { "#ua#n1", "#uc#n1", "#ub#n2" };

	mknames(n1, 1, s1);
	mknames(n3, 3, s3);
	T_EQ(mkbody(join_body, gj, 1, 0, &one, n1, 0), sizeof(join_body));
	T_EQ(mkbody(merge_body, gm, 2, 68, two, n3, 0), sizeof(merge_body));
	memcpy(trans_body, gm, 12);
}

/* Item 42, join: the observed body of section 5.2. */
static void memb_info_join(void)
{
	static const uint8_t observed[56] = {
		0x01, 0x00, 0x00, 0x7F, 0xE1, 0x48, 0x07, 0x6B, 1, 0, 0, 0, 1,
		0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, '#', 'a', 'l', 'i', 'c', 'e',
		'#', 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',
	};
	membership_info mi;

	bodies();
	if (WIRE_OWN_MARK == WIRE_MARK)
		T_MEMEQ(join_body, observed, sizeof(observed));
	T_EQ(SP_get_memb_info((char *)join_body, REG_MEMB_MESS | CAUSED_BY_JOIN,
			      &mi), 1);
	T_EQ(mi.gid.id[0], 0x7f000001);
	T_EQ(mi.gid.id[1], 0x6b0748e1);
	T_EQ(mi.gid.id[2], 1);
	T_STREQ(mi.changed_member, "#alice#localhost");
	T_EQ(mi.num_vs_sets, 1);
	T_EQ(mi.my_vs_set.num_members, 1);
	T_EQ(mi.my_vs_set.members_offset, 24);
}

/* Item 42, the other services, table-driven. changed_member starts as
 * "sentinel"; "" means zeroed. */
static void memb_info_table(void)
{
	static const struct {
		const uint8_t *body;
		service st;
		int ret;
		const char *changed;
		unsigned sets, members, offset;
		int gid_zero;
	} cases[] = {
		{ join_body, REG_MEMB_MESS | CAUSED_BY_LEAVE, 1,
		  "#alice#localhost", 1, 1, 24, 0 },
		{ join_body, REG_MEMB_MESS | CAUSED_BY_DISCONNECT, 1,
		  "#alice#localhost", 1, 1, 24, 0 },
		{ join_body, REG_MEMB_MESS | CAUSED_BY_NETWORK, 1, "", 1, 1, 24,
		  0 },
		{ merge_body, REG_MEMB_MESS | CAUSED_BY_NETWORK, 1, "", 2, 1, 92,
		  0 },
		{ trans_body, TRANSITION_MESS, 1, "sentinel", 0, 0, 0, 0 },
		{ NULL, CAUSED_BY_LEAVE, 1, "sentinel", 0, 0, 0, 1 },
		{ join_body, CAUSED_BY_LEAVE, 1, "sentinel", 0, 0, 0, 1 },
		{ join_body, AGREED_MESS, ILLEGAL_MESSAGE, NULL, 0, 0, 0, 0 },
		{ join_body, 0, ILLEGAL_MESSAGE, NULL, 0, 0, 0, 0 },
		{ join_body, REJECT_MESS | CAUSED_BY_JOIN, ILLEGAL_MESSAGE, NULL,
		  0, 0, 0, 0 },
		{ join_body, REJECT_MESS | REG_MEMB_MESS | CAUSED_BY_JOIN,
		  ILLEGAL_MESSAGE, NULL, 0, 0, 0, 0 },
		{ NULL, REG_MEMB_MESS | CAUSED_BY_JOIN, ILLEGAL_MESSAGE, NULL, 0,
		  0, 0, 0 },
	};

	bodies();
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		membership_info mi;
		int r;

		memset(&mi, 0x55, sizeof(mi));
		strcpy(mi.changed_member, "sentinel");
		r = SP_get_memb_info((const char *)cases[i].body, cases[i].st,
				     &mi);
		T_ASSERTF(r == cases[i].ret, "case %zu: %d", i, r);
		if (r != 1)
			continue;
		T_STREQ(mi.changed_member, cases[i].changed);
		T_EQ(mi.num_vs_sets, cases[i].sets);
		T_EQ(mi.my_vs_set.num_members, cases[i].members);
		T_EQ(mi.my_vs_set.members_offset, cases[i].offset);
		if (cases[i].gid_zero) {
			T_EQ(mi.gid.id[0], 0);
			T_EQ(mi.gid.id[1], 0);
			T_EQ(mi.gid.id[2], 0);
		} else {
			T_MEMEQ(&mi.gid, cases[i].body, 12);
		}
	}
	T_EQ(SP_get_memb_info((char *)join_body, REG_MEMB_MESS | CAUSED_BY_JOIN,
			      NULL), ILLEGAL_MESSAGE);
}

/* Item 43. */
static void vs_sets_info(void)
{
	vs_set_info sets[5];
	unsigned int my = 77;

	bodies();
	memset(sets, 0x55, sizeof(sets));
	T_EQ(SP_get_vs_sets_info((char *)merge_body, sets, 1, &my),
	     BUFFER_TOO_SHORT);
	T_EQ(SP_get_vs_sets_info((char *)merge_body, sets, -1, &my),
	     BUFFER_TOO_SHORT);
	T_EQ(sets[0].num_members, 0x55555555u);
	T_EQ(my, 77);
	T_EQ(SP_get_vs_sets_info((char *)merge_body, sets, 2, &my), 2);
	T_EQ(my, 1);
	T_EQ(sets[0].num_members, 2);
	T_EQ(sets[0].members_offset, 24);
	T_EQ(sets[1].num_members, 1);
	T_EQ(sets[1].members_offset, 92);
	T_EQ(SP_get_vs_sets_info((char *)merge_body, sets, 5, NULL), 2);
	T_EQ(SP_get_vs_sets_info((char *)join_body, sets, 5, &my), 1);
	T_EQ(my, 0);
	T_EQ(SP_get_vs_sets_info((char *)join_body, NULL, 5, &my),
	     ILLEGAL_MESSAGE);
	T_EQ(SP_get_vs_sets_info(NULL, sets, 5, &my), ILLEGAL_MESSAGE);
}

/* Item 44. */
static void vs_set_members(void)
{
	char names[3][MAX_GROUP_NAME];
	vs_set_info sets[2], empty = { 0, 20 };
	unsigned int my;

	bodies();
	T_EQ(SP_get_vs_sets_info((char *)merge_body, sets, 2, &my), 2);
	memset(names, 0x55, sizeof(names));
	T_EQ(SP_get_vs_set_members((char *)merge_body, &sets[0], names, 1),
	     BUFFER_TOO_SHORT);
	T_EQ((uint8_t)names[0][0], 0x55);
	T_EQ(SP_get_vs_set_members((char *)merge_body, &sets[0], names, 3), 2);
	T_MEMEQ(names[0], merge_body + 24, 32);
	T_STREQ(names[0], "#ua#n1");
	T_STREQ(names[1], "#uc#n1");
	T_EQ((uint8_t)names[2][0], 0x55);
	T_EQ(SP_get_vs_set_members((char *)merge_body, &sets[1], names, 1), 1);
	T_STREQ(names[0], "#ub#n2");
	T_EQ(SP_get_vs_set_members((char *)merge_body, &empty, NULL, 0), 0);
	T_EQ(SP_get_vs_set_members((char *)merge_body, NULL, names, 3),
	     ILLEGAL_MESSAGE);
}

/* Everything all three parsers report about one body, for comparing. */
struct parsed {
	int r_info, r_sets, r_mem[2];
	membership_info mi;
	vs_set_info sets[3];
	unsigned int my;
	char names[2][3][MAX_GROUP_NAME];
};

/* Only a regular membership has vs sets; for the others only the first
 * parser applies. */
static void parse_flat(const uint8_t *b, service st, struct parsed *p)
{
	memset(p, 0x33, sizeof(*p));
	p->r_info = SP_get_memb_info((const char *)b, st, &p->mi);
	if (!Is_reg_memb_mess(st))
		return;
	p->r_sets = SP_get_vs_sets_info((const char *)b, p->sets, 3, &p->my);
	for (int i = 0; i < 2; i++)
		p->r_mem[i] = SP_get_vs_set_members((const char *)b,
						    &p->sets[i], p->names[i], 3);
}

static void parse_scat(const scatter *sc, service st, struct parsed *p,
		       const struct parsed *flat)
{
	memset(p, 0x33, sizeof(*p));
	p->r_info = SP_scat_get_memb_info(sc, st, &p->mi);
	if (!Is_reg_memb_mess(st))
		return;
	p->r_sets = SP_scat_get_vs_sets_info(sc, p->sets, 3, &p->my);
	/* Walk the same sets as the flat parse did. */
	for (int i = 0; i < 2; i++)
		p->r_mem[i] = SP_scat_get_vs_set_members(sc, &flat->sets[i],
							 p->names[i], 3);
}

/* Splits len bytes of body at the cut points (sorted, n of them) into
 * n + 1 elements. */
static void split(scatter *sc, const uint8_t *body, size_t len,
		  const size_t *cuts, int n)
{
	size_t prev = 0;

	sc->num_elements = (size_t)n + 1;
	for (int i = 0; i <= n; i++) {
		size_t end = i < n ? cuts[i] : len;

		sc->elements[i].buf = (char *)(uintptr_t)(body + prev);
		sc->elements[i].len = end - prev;
		prev = end;
	}
}

/* Item 45: every 2- and 3-element split of each body gives the
 * contiguous results, for every service that parses it. */
static void scat_every_split(void)
{
	static const struct {
		const uint8_t *body;
		size_t len;
		service st;
	} cases[] = {
		{ join_body, sizeof(join_body), REG_MEMB_MESS | CAUSED_BY_JOIN },
		{ join_body, sizeof(join_body), REG_MEMB_MESS | CAUSED_BY_LEAVE },
		{ merge_body, sizeof(merge_body),
		  REG_MEMB_MESS | CAUSED_BY_NETWORK },
		{ trans_body, sizeof(trans_body), TRANSITION_MESS },
	};
	static scatter sc;
	struct parsed flat, sp;
	long checked = 0;

	bodies();
	for (size_t c = 0; c < T_COUNT(cases); c++) {
		const uint8_t *b = cases[c].body;
		size_t len = cases[c].len;
		uint8_t *copy = malloc(len);

		/* The flat parse reads an exact-size copy, so that ASan
		 * would catch a read past the body. */
		memcpy(copy, b, len);
		parse_flat(copy, cases[c].st, &flat);
		if (cases[c].st != TRANSITION_MESS) {
			T_EQ(flat.r_info, 1);
			T_ASSERT(flat.r_sets >= 1);
		}
		for (size_t i = 0; i <= len; i++) {
			for (size_t j = i; j <= len; j++) {
				size_t cuts[2] = { i, j };

				split(&sc, copy, len, cuts, 2);
				parse_scat(&sc, cases[c].st, &sp, &flat);
				T_ASSERTF(memcmp(&sp, &flat, sizeof(sp)) == 0,
					  "body %zu split %zu/%zu", c, i, j);
				checked++;
			}
			split(&sc, copy, len, &i, 1);
			parse_scat(&sc, cases[c].st, &sp, &flat);
			T_ASSERTF(memcmp(&sp, &flat, sizeof(sp)) == 0,
				  "body %zu split %zu", c, i);
		}
		free(copy);
	}
	T_ASSERT(checked > 10000);
}

/* Item 45 again: random splits into up to 100 elements, some empty. */
static void scat_random_splits(void)
{
	static scatter sc;
	struct parsed flat, sp;
	unsigned seed = 12345;

	bodies();
	parse_flat(merge_body, REG_MEMB_MESS | CAUSED_BY_NETWORK, &flat);
	for (int trial = 0; trial < 3000; trial++) {
		size_t cuts[99];
		int n = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 99;

		for (int k = 0; k < n; k++)
			cuts[k] = ((seed = seed * 1103515245 + 12345) >> 16) %
				  (sizeof(merge_body) + 1);
		for (int a = 1; a < n; a++) /* insertion sort */
			for (int k = a; k > 0 && cuts[k - 1] > cuts[k]; k--) {
				size_t t = cuts[k];

				cuts[k] = cuts[k - 1];
				cuts[k - 1] = t;
			}
		split(&sc, merge_body, sizeof(merge_body), cuts, n);
		parse_scat(&sc, REG_MEMB_MESS | CAUSED_BY_NETWORK, &sp, &flat);
		T_ASSERTF(memcmp(&sp, &flat, sizeof(sp)) == 0, "trial %d", trial);
	}
}

/* Scatters that are malformed or end too early: ILLEGAL_MESSAGE. */
static void scat_errors(void)
{
	static scatter sc;
	membership_info mi;
	vs_set_info sets[3] = { { 1, 24 } };
	char names[3][MAX_GROUP_NAME];
	unsigned int my;

	bodies();
	sc.num_elements = 101;
	T_EQ(SP_scat_get_memb_info(&sc, REG_MEMB_MESS | CAUSED_BY_JOIN, &mi),
	     ILLEGAL_MESSAGE);
	T_EQ(SP_scat_get_vs_sets_info(&sc, sets, 3, &my), ILLEGAL_MESSAGE);
	T_EQ(SP_scat_get_vs_set_members(&sc, sets, names, 3), ILLEGAL_MESSAGE);
	T_EQ(SP_scat_get_memb_info(NULL, REG_MEMB_MESS | CAUSED_BY_JOIN, &mi),
	     ILLEGAL_MESSAGE);
	sc.num_elements = 2;
	sc.elements[0].buf = (char *)join_body;
	sc.elements[0].len = 10;
	sc.elements[1].buf = NULL;
	sc.elements[1].len = 10;
	T_EQ(SP_scat_get_memb_info(&sc, REG_MEMB_MESS | CAUSED_BY_JOIN, &mi),
	     ILLEGAL_MESSAGE);
	/* The body cut at 30 bytes: the joiner's name is not all there. */
	sc.num_elements = 1;
	sc.elements[0].len = 30;
	T_EQ(SP_scat_get_memb_info(&sc, REG_MEMB_MESS | CAUSED_BY_JOIN, &mi),
	     ILLEGAL_MESSAGE);
	T_EQ(SP_scat_get_memb_info(&sc, REG_MEMB_MESS | CAUSED_BY_NETWORK, &mi),
	     1);
	T_EQ(SP_scat_get_vs_sets_info(&sc, sets, 3, &my), 1);
	T_EQ(SP_scat_get_vs_set_members(&sc, sets, names, 3), ILLEGAL_MESSAGE);
	sc.elements[0].len = 0;
	T_EQ(SP_scat_get_memb_info(&sc, TRANSITION_MESS, &mi), ILLEGAL_MESSAGE);
	T_EQ(SP_scat_get_memb_info(&sc, CAUSED_BY_LEAVE, &mi), 1);
}

/* L8: the contiguous parsers clamp counts and offsets instead of reading
 * far past the body. The body lives in an exact-size heap block. */
static void flat_clamps(void)
{
	uint8_t *b = malloc(64);
	vs_set_info sets[4];
	membership_info mi;
	unsigned int my;

	memset(b, 0, 64);
	put32x(b + 12, 2, 0);         /* two sets */
	put32x(b + 20, 0x10000000, 0); /* the first one absurdly large */
	T_EQ(SP_get_vs_sets_info((char *)b, sets, 4, &my), ILLEGAL_MESSAGE);
	put32x(b + 16, 0xfffffff0u, 0); /* offset that overflows */
	T_EQ(SP_get_memb_info((char *)b, REG_MEMB_MESS | CAUSED_BY_NETWORK,
			      &mi), ILLEGAL_MESSAGE);
	put32x(b + 16, 1u << 24, 0); /* offset past the clamp */
	T_EQ(SP_get_memb_info((char *)b, REG_MEMB_MESS | CAUSED_BY_NETWORK,
			      &mi), ILLEGAL_MESSAGE);
	sets[0].num_members = 2;
	sets[0].members_offset = 0xffffffffu;
	T_EQ(SP_get_vs_set_members((char *)b, sets, NULL, 0), BUFFER_TOO_SHORT);
	{
		char names[2][MAX_GROUP_NAME];

		T_EQ(SP_get_vs_set_members((char *)b, sets, names, 2),
		     ILLEGAL_MESSAGE);
	}
	free(b);
}

/* Item 46. */
static void equal_group_ids(void)
{
	static const struct {
		group_id a, b;
		int eq;
	} cases[] = {
		{ { { 1, 2, 3 } }, { { 1, 2, 3 } }, 1 },
		{ { { 1, 2, 3 } }, { { 0, 2, 3 } }, 0 },
		{ { { 1, 2, 3 } }, { { 1, 0, 3 } }, 0 },
		{ { { 1, 2, 3 } }, { { 1, 2, 0 } }, 0 },
		{ { { -1, -1, -1 } }, { { -1, -1, -1 } }, 1 },
		{ { { 0, 0, 0 } }, { { 0, 0, 0 } }, 1 },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		T_EQ(SP_equal_group_ids(cases[i].a, cases[i].b), cases[i].eq);
		T_EQ(SP_equal_group_ids(cases[i].b, cases[i].a), cases[i].eq);
	}
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(memb_info_join),
		T_CASE(memb_info_table),
		T_CASE(vs_sets_info),
		T_CASE(vs_set_members),
		T_CASE(scat_every_split),
		T_CASE(scat_random_splits),
		T_CASE(scat_errors),
		T_CASE(flat_clamps),
		T_CASE(equal_group_ids),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
