# SPDX-License-Identifier: MIT
# ACKD_FUZZING(ENABLE): when ENABLE is "yes", check that $CC builds and links
# a libFuzzer target with the sanitizers (clang's -fsanitize=fuzzer), put
# those flags in FUZZ_CFLAGS, and set the ENABLE_FUZZING conditional that
# builds tests/fuzz/ and makes 'make fuzz' run it. Errors out when asked
# for and impossible, rather than quietly building no fuzzers.
AC_DEFUN([ACKD_FUZZING], [
	FUZZ_CFLAGS=
	AS_IF([test "x$1" = xyes], [
		# a sanitizer report must stop the fuzzer, not scroll past
		ackd_fuzz_flags="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
		AC_CACHE_CHECK([whether $CC links libFuzzer targets],
		    [ackd_cv_fuzzer], [
			save_CFLAGS=$CFLAGS
			CFLAGS="$CFLAGS $ackd_fuzz_flags"
			AC_LINK_IFELSE([AC_LANG_SOURCE([[#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{ return size > 0 && data[0] == 'x' ? 1 : 0; }]])],
				[ackd_cv_fuzzer=yes], [ackd_cv_fuzzer=no])
			CFLAGS=$save_CFLAGS])
		AS_IF([test "x$ackd_cv_fuzzer" != xyes],
		    [AC_MSG_ERROR([--enable-fuzzing needs clang with libFuzzer ($ackd_fuzz_flags); $CC cannot link with them. Try: CC=clang ./configure --enable-fuzzing (Debian: apt-get install clang)])])
		FUZZ_CFLAGS=$ackd_fuzz_flags])
	AC_SUBST([FUZZ_CFLAGS])
	AM_CONDITIONAL([ENABLE_FUZZING], [test "x$1" = xyes])
])
