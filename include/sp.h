/*
 * sp.h - the Chorus client API, source-compatible with Spread 4's <sp.h>.
 *
 * A program written for Spread compiles unchanged against this header and
 * links with libchorus (-lchorus). The types, constants, return codes and
 * predicates below carry the values of the Spread 4.4 client protocol; see
 * docs/client-protocol.md and libchorus(3) for the behaviour of each call
 * and the few documented deviations (all of them refuse input that the
 * original accepted and then mishandled).
 *
 * Extensions that Spread does not have live in <chorus.h>, never here.
 */
#ifndef CHORUS_SP_H
#define CHORUS_SP_H

#include <stddef.h>

#include "sp_events.h" /* sp_time, and Spread's event library */

#ifdef __cplusplus
extern "C" {
#endif

/* Spread spelled its fixed-width integers as macros; programs use them. */
#ifndef int16
#define int16 short
#endif
#ifndef int32
#define int32 int
#endif

#define SPREAD_VERSION ((4 << 24) | (4 << 16) | 0)
#define DEFAULT_SPREAD_PORT 4803

#define MAX_GROUP_NAME 32
#define MAX_PRIVATE_NAME 10
#define MAX_PROC_NAME 20
#define MAX_CLIENT_SCATTER_ELEMENTS 100

/* Service bits. */
#define UNRELIABLE_MESS 0x00000001
#define RELIABLE_MESS 0x00000002
#define FIFO_MESS 0x00000004
#define CAUSAL_MESS 0x00000008
#define AGREED_MESS 0x00000010
#define SAFE_MESS 0x00000020
#define REGULAR_MESS 0x0000003f

#define SELF_DISCARD 0x00000040
#define DROP_RECV 0x01000000

#define REG_MEMB_MESS 0x00001000
#define TRANSITION_MESS 0x00002000
#define CAUSED_BY_JOIN 0x00000100
#define CAUSED_BY_LEAVE 0x00000200
#define CAUSED_BY_DISCONNECT 0x00000400
#define CAUSED_BY_NETWORK 0x00000800
#define MEMBERSHIP_MESS 0x00003f00

#define ENDIAN_RESERVED 0x80000080
#define RESERVED 0x003fc000
#define REJECT_MESS 0x00400000

#define Is_unreliable_mess(type) ((type) & UNRELIABLE_MESS)
#define Is_reliable_mess(type) ((type) & RELIABLE_MESS)
#define Is_fifo_mess(type) ((type) & FIFO_MESS)
#define Is_causal_mess(type) ((type) & CAUSAL_MESS)
#define Is_agreed_mess(type) ((type) & AGREED_MESS)
#define Is_safe_mess(type) ((type) & SAFE_MESS)
#define Is_regular_mess(type) (((type) & REGULAR_MESS) && !((type) & REJECT_MESS))

#define Is_self_discard(type) ((type) & SELF_DISCARD)

#define Is_reg_memb_mess(type) ((type) & REG_MEMB_MESS)
#define Is_transition_mess(type) ((type) & TRANSITION_MESS)
#define Is_caused_join_mess(type) ((type) & CAUSED_BY_JOIN)
#define Is_caused_leave_mess(type) ((type) & CAUSED_BY_LEAVE)
#define Is_caused_disconnect_mess(type) ((type) & CAUSED_BY_DISCONNECT)
#define Is_caused_network_mess(type) ((type) & CAUSED_BY_NETWORK)
#define Is_membership_mess(type) (((type) & MEMBERSHIP_MESS) && !((type) & REJECT_MESS))
#define Is_reject_mess(type) ((type) & REJECT_MESS)
#define Is_self_leave(type) \
	(((type) & CAUSED_BY_LEAVE) && !((type) & (REG_MEMB_MESS | TRANSITION_MESS)))

/* Return and error codes. */
#define ACCEPT_SESSION 1
#define ILLEGAL_SPREAD (-1)
#define COULD_NOT_CONNECT (-2)
#define REJECT_QUOTA (-3)
#define REJECT_NO_NAME (-4)
#define REJECT_ILLEGAL_NAME (-5)
#define REJECT_NOT_UNIQUE (-6)
#define REJECT_VERSION (-7)
#define CONNECTION_CLOSED (-8)
#define REJECT_AUTH (-9)

#define ILLEGAL_SESSION (-11)
#define ILLEGAL_SERVICE (-12)
#define ILLEGAL_MESSAGE (-13)
#define ILLEGAL_GROUP (-14)
#define BUFFER_TOO_SHORT (-15)
#define GROUPS_TOO_SHORT (-16)
#define MESSAGE_TOO_LONG (-17)
#define NET_ERROR_ON_SESSION (-18)
#define SP_BUG (-19)

#define Flip_int16(v) ((int16)((((v) >> 8) & 0x00ff) | (((v) << 8) & 0xff00)))
#define Flip_int32(v)                                                         \
	((int32)((((v) >> 24) & 0x000000ff) | (((v) >> 8) & 0x0000ff00) |     \
		 (((v) << 8) & 0x00ff0000) | (((unsigned int)(v) << 24) & 0xff000000)))

typedef int mailbox;
typedef int service;

typedef struct dummy_group_id {
	int32 id[3]; /* membership id (representative, time), index */
} group_id;

typedef struct dummy_vs_set_info {
	unsigned int num_members;
	unsigned int members_offset; /* from the start of the message body */
} vs_set_info;

typedef struct dummy_membership_info {
	group_id gid;
	char changed_member[MAX_GROUP_NAME];
	unsigned int num_vs_sets;
	vs_set_info my_vs_set;
} membership_info;

/* Same memory layout as struct iovec. */
typedef struct dummy_scat_element {
	char *buf;
	size_t len;
} scat_element;

typedef struct dummy_scatter {
	size_t num_elements;
	scat_element elements[MAX_CLIENT_SCATTER_ELEMENTS];
} scatter;

int SP_version(int *major_version, int *minor_version, int *patch_version);

int SP_set_auth_method(const char *auth_name,
		       int (*authenticate)(int, void *), void *auth_data);
int SP_set_auth_methods(int num_methods, const char *auth_name[],
			int (*authenticate[])(int, void *), void *auth_data[]);

int SP_connect(const char *spread_name, const char *private_name,
	       int priority, int group_membership, mailbox *mbox,
	       char *private_group);
int SP_connect_timeout(const char *spread_name, const char *private_name,
		       int priority, int group_membership, mailbox *mbox,
		       char *private_group, sp_time time_out);
int SP_disconnect(mailbox mbox);
void SP_kill(mailbox mbox);

int SP_join(mailbox mbox, const char *group);
int SP_leave(mailbox mbox, const char *group);

int SP_multicast(mailbox mbox, service service_type, const char *group,
		 int16 mess_type, int mess_len, const char *mess);
int SP_scat_multicast(mailbox mbox, service service_type, const char *group,
		      int16 mess_type, const scatter *scat_mess);
int SP_multigroup_multicast(mailbox mbox, service service_type,
			    int num_groups, const char groups[][MAX_GROUP_NAME],
			    int16 mess_type, int mess_len, const char *mess);
int SP_multigroup_scat_multicast(mailbox mbox, service service_type,
				 int num_groups,
				 const char groups[][MAX_GROUP_NAME],
				 int16 mess_type, const scatter *scat_mess);

int SP_receive(mailbox mbox, service *service_type,
	       char sender[MAX_GROUP_NAME], int max_groups, int *num_groups,
	       char groups[][MAX_GROUP_NAME], int16 *mess_type,
	       int *endian_mismatch, int max_mess_len, char *mess);
int SP_scat_receive(mailbox mbox, service *service_type,
		    char sender[MAX_GROUP_NAME], int max_groups,
		    int *num_groups, char groups[][MAX_GROUP_NAME],
		    int16 *mess_type, int *endian_mismatch,
		    scatter *scat_mess);

int SP_poll(mailbox mbox);

int SP_equal_group_ids(group_id g1, group_id g2);

int SP_get_memb_info(const char *memb_mess, const service service_type,
		     membership_info *memb_info);
int SP_get_vs_sets_info(const char *memb_mess, vs_set_info *vs_sets,
			int num_vs_sets, unsigned int *my_vs_set_index);
int SP_get_vs_set_members(const char *memb_mess, const vs_set_info *vs_set,
			  char member_names[][MAX_GROUP_NAME],
			  int member_names_count);

int SP_scat_get_memb_info(const scatter *memb_mess,
			  const service service_type,
			  membership_info *memb_info);
int SP_scat_get_vs_sets_info(const scatter *memb_mess, vs_set_info *vs_sets,
			     int num_vs_sets, unsigned int *my_vs_set_index);
int SP_scat_get_vs_set_members(const scatter *memb_mess,
			       const vs_set_info *vs_set,
			       char member_names[][MAX_GROUP_NAME],
			       int member_names_count);

/* Prints one line describing the code to standard output, as Spread does.
 * It is the only call of the library that prints; chorus_strerror() in
 * <chorus.h> returns the same text without printing. */
void SP_error(int error);

#ifdef __cplusplus
}
#endif

#endif /* CHORUS_SP_H */
