/* hiredis's redisGetReply, composed here of the real functions it is made
 * of. hiredis's own calls them through its PLT, which the shim's
 * wrappers of those functions (for programs that drive the I/O
 * themselves) would then see on every reply: this way the healthy path
 * never re-enters the shim. */
#ifndef CACHEKIT_GET_REPLY_H
#define CACHEKIT_GET_REPLY_H

#include "hiredis_types.h"

/* As redisGetReply in the loaded version: a reply already parsed, else
 * (blocking context) the output written and the socket read until one
 * comes; 1.x hands RESP3 pushes to the context's push callback on the
 * way. NULL `reply`: the reply is freed. */
int ck_real_get_reply(redisContext *c, void **reply);

#endif
