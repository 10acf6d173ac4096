# SPDX-License-Identifier: MIT
# ACKD_SANITIZERS(LIST): turn LIST, a comma-separated list of address,
# undefined and thread (or "no"), into SAN_CFLAGS and SAN_LDFLAGS:
# -fsanitize=LIST -fno-omit-frame-pointer -g, plus -fno-sanitize-recover=all
# for undefined so that its first report is fatal like the others. Refuses
# thread with address (one runtime excludes the other), and checks that
# $CC compiles, links and runs a threaded program with the flags, so that a
# compiler or machine without the runtime fails here, not halfway through
# make check.
AC_DEFUN([ACKD_SANITIZERS], [
	SAN_CFLAGS= SAN_LDFLAGS=
	ackd_san_list=
	AS_CASE([$1],
	[no], [],
	[yes|""], [AC_MSG_ERROR([--enable-sanitizers needs a list, e.g. --enable-sanitizers=address,undefined or --enable-sanitizers=thread])],
	[
		ackd_save_IFS=$IFS
		IFS=,
		for ackd_san in $1; do
			IFS=$ackd_save_IFS
			AS_CASE([$ackd_san],
			[address|undefined|thread], [],
			[AC_MSG_ERROR([--enable-sanitizers: unknown sanitizer '$ackd_san' (allowed: address, undefined, thread)])])
			AS_CASE([,$ackd_san_list,], [*,$ackd_san,*], [],
				[ackd_san_list=${ackd_san_list:+$ackd_san_list,}$ackd_san])
		done
		IFS=$ackd_save_IFS
		AS_CASE([,$ackd_san_list,], [*,address,*], [
			AS_CASE([,$ackd_san_list,], [*,thread,*],
				[AC_MSG_ERROR([--enable-sanitizers: thread cannot be combined with address; build twice])])])
		SAN_CFLAGS="-fsanitize=$ackd_san_list -fno-omit-frame-pointer -g"
		AS_CASE([,$ackd_san_list,], [*,undefined,*],
			[SAN_CFLAGS="$SAN_CFLAGS -fno-sanitize-recover=all"])
		SAN_LDFLAGS="-fsanitize=$ackd_san_list"
		AC_MSG_CHECKING([whether $CC builds with $SAN_CFLAGS])
		ackd_save_CFLAGS=$CFLAGS ackd_save_LDFLAGS=$LDFLAGS
		CFLAGS="$CFLAGS $SAN_CFLAGS" LDFLAGS="$LDFLAGS $SAN_LDFLAGS"
		AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <pthread.h>
static void *f(void *a) { return a; }]],
			[[pthread_t t; pthread_create(&t, 0, f, 0); pthread_join(t, 0);]])],
			[AC_MSG_RESULT([yes])],
			[AC_MSG_RESULT([no])
			 AC_MSG_ERROR([$CC cannot build with $SAN_LDFLAGS (is its runtime installed? with gcc on Debian: libasan, libubsan, libtsan; see config.log)])])
		# a runtime that links may still refuse to start (TSan on a
		# kernel with too many bits of mmap randomisation)
		AC_MSG_CHECKING([whether a program built with $SAN_LDFLAGS runs])
		AC_RUN_IFELSE([AC_LANG_PROGRAM([[#include <pthread.h>
static void *f(void *a) { return a; }]],
			[[pthread_t t; pthread_create(&t, 0, f, 0); pthread_join(t, 0);]])],
			[AC_MSG_RESULT([yes])],
			[AC_MSG_RESULT([no])
			 AC_MSG_ERROR([a program built with $SAN_LDFLAGS does not run here; see config.log (for thread on Linux, vm.mmap_rnd_bits above 28 is a known cause)])],
			[AC_MSG_RESULT([cross-compiling, not tried])])
		CFLAGS=$ackd_save_CFLAGS LDFLAGS=$ackd_save_LDFLAGS
	])
	AC_SUBST([SAN_CFLAGS])
	AC_SUBST([SAN_LDFLAGS])
])
