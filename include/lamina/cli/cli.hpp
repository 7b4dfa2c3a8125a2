#pragma once
// lamina's command line: `lamina serve`, `lamina version`. Flags and LAMINA_*
// environment variables are parsed here, and only here, into a Config.

namespace lamina::cli {

// Runs the command line; returns the process exit code.
int run(int argc, char** argv);

}  // namespace lamina::cli
