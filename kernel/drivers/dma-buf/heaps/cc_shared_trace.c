// SPDX-License-Identifier: GPL-2.0
/*
 * The system_cc_shared heap's trace events, defined once here; the heap's
 * other files include cc_shared_trace.h to emit them.
 */
#define CREATE_TRACE_POINTS
#include "cc_shared_trace.h"
