#pragma once

#include <pthread.h>

namespace lamina {

// Names the calling thread as `top -H`, `ps -L`, perf and /proc/<pid>/task
// show it (at most 15 characters; longer names are left unset). The main
// thread keeps the process's name, so `pidof lamina` still finds it.
inline void name_this_thread(const char* name) {
    (void)::pthread_setname_np(::pthread_self(), name);
}

}  // namespace lamina
