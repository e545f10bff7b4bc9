// `latf`: the command line of the LaTF engine (apps/cli/README.md). Exit codes: 0 success,
// 1 runtime failure (unreadable data, divergence, I/O), 2 bad command-line input.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/common.hpp"

int main(int argc, char** argv) {
  CLI::App app{"latf: Latent Thermodynamic Flows (SPIB + temperature-steerable normalizing flow)", "latf"};
  app.require_subcommand(1);
  // One line per error, as for the errors of the commands themselves.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("latf: error: ") + e.what() + " (run with --help for usage)\n";
  });
  latf::cli::add_simulate_command(app);
  latf::cli::add_train_command(app);
  latf::cli::add_encode_command(app);
  latf::cli::add_sample_command(app);
  latf::cli::add_evaluate_command(app);
  latf::cli::add_demo_command(app);
  latf::cli::add_plot_command(app);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help (code 0) or the parse error
    return code == 0 ? 0 : 2;
  } catch (const latf::cli::UsageError& e) {
    std::fprintf(stderr, "latf: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "latf: error: %s\n", e.what());
    return 1;
  }
}
