#include "lamina/cli/cli.hpp"

int main(int argc, char** argv) { return lamina::cli::run(argc, argv); }
