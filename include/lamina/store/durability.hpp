#pragma once

namespace lamina::store {

// What a committed write survives, for every SQLite file lamina keeps
// (registry, SQS, logs). All three modes keep WAL journaling.
enum class Durability {
    // The data directory is removed at exit (--ephemeral, `lamina run`): no
    // fsync at all (synchronous=OFF). A crash still cannot corrupt what other
    // threads read: WAL keeps readers consistent.
    Temporary,
    // Survives the process being killed (kill -9, a crash): the default.
    // synchronous=NORMAL, commits land in the OS's page cache; WAL
    // checkpoints fsync.
    Crash,
    // Survives power loss too (--durable-commits): synchronous=FULL.
    PowerLoss,
};

// The PRAGMA for a connection's commits. Opening a new file and creating its
// schema runs under kCreateSynchronous first (see below): the fsyncs SQLite
// makes while it creates a file (its first rollback journal, the directory
// entry, the switch to WAL) were most of an empty server's start-up time and
// protect nothing that a process crash could lose.
inline const char* synchronous_pragma(Durability d) {
    switch (d) {
        case Durability::Temporary:
            return "PRAGMA synchronous=OFF";
        case Durability::Crash:
            return "PRAGMA synchronous=NORMAL";
        case Durability::PowerLoss:
            return "PRAGMA synchronous=FULL";
    }
    return "PRAGMA synchronous=FULL";
}

// The PRAGMA for creating the file and its schema: only power-loss
// durability syncs the file's creation.
inline const char* create_synchronous_pragma(Durability d) {
    return d == Durability::PowerLoss ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF";
}

}  // namespace lamina::store
