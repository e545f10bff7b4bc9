#pragma once
// One function per subcommand: registers it (options and the action run after parsing) on `app`.
namespace CLI {
class App;
}

namespace latf::cli {

void add_simulate_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_encode_command(CLI::App& app);
void add_sample_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_plot_command(CLI::App& app);

}  // namespace latf::cli
