// zdm: one binary, one subcommand per tool. Parses arguments, builds objects, runs.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"zdm: zero-downtime migration between Cassandra-compatible clusters"};
  app.set_version_flag("--version", "zdm 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zdm: %s\n", e.what());
    return 1;
  }
  return 0;
}
