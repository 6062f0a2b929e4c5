/*
 * Unit tests for lib/buf: the cap, the sticky error, consume and take.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "tap.h"

int
main(void)
{
	struct buf b;
	char *s;

	buf_init(&b, 10);
	is_str(buf_str(&b), "", "a new buffer reads as empty");
	ok(buf_puts(&b, "hello") == 0, "append within the cap");
	ok(buf_printf(&b, "%d", 1234) == 0, "printf within the cap");
	is_str(buf_str(&b), "hello1234", "contents after two appends");
	ok(buf_puts(&b, "xy") == -1, "append past the cap fails");
	ok(b.err, "the failure is sticky");
	is_str(buf_str(&b), "hello1234", "a failed append leaves the contents");
	ok(buf_puts(&b, "z") == 0 && b.len == 10, "exactly the cap fits");
	buf_consume(&b, 5);
	is_str(buf_str(&b), "1234z", "consume drops the front");
	buf_reset(&b);
	ok(!b.err && b.len == 0, "reset clears the error and the data");
	ok(buf_append(&b, "a\0b", 3) == 0 && b.len == 3, "binary-safe append");
	s = buf_take(&b);
	ok(memcmp(s, "a\0b", 4) == 0, "take hands over the terminated data");
	ok(b.data == NULL && b.len == 0, "take empties the buffer");
	free(s);
	ok(buf_printf(&b, "%s", "0123456789A") == -1, "printf past the cap fails");
	buf_free(&b);
	return done_testing();
}
