# SPDX-License-Identifier: MIT
# ACKD_PTHREADS: find the compiler and linker flags for POSIX threads and add
# them to CFLAGS and LIBS. Tries -pthread first (gcc, clang), then -lpthread.
AC_DEFUN([ACKD_PTHREADS], [
	AC_CACHE_CHECK([how to build with POSIX threads], [ackd_cv_pthread], [
		ackd_cv_pthread=no
		for flag in -pthread -lpthread; do
			save_CFLAGS=$CFLAGS save_LIBS=$LIBS
			AS_CASE([$flag], [-pthread], [CFLAGS="$CFLAGS $flag"])
			LIBS="$LIBS $flag"
			AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <pthread.h>
static void *f(void *a) { return a; }]],
				[[pthread_t t; pthread_create(&t, 0, f, 0); pthread_join(t, 0);]])],
				[ackd_cv_pthread=$flag])
			CFLAGS=$save_CFLAGS LIBS=$save_LIBS
			test "x$ackd_cv_pthread" != xno && break
		done])
	AS_IF([test "x$ackd_cv_pthread" = xno], [AC_MSG_ERROR([POSIX threads are required])])
	AS_CASE([$ackd_cv_pthread], [-pthread], [CFLAGS="$CFLAGS -pthread"])
	LIBS="$LIBS $ackd_cv_pthread"
])
