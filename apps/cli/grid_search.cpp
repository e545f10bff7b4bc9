#include "apps/cli/grid_search.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <system_error>

#include "apps/cli/common.hpp"
#include "data/atomic_file.hpp"
#include "engine/error.hpp"

namespace latf::cli {

namespace fs = std::filesystem;

namespace {

void check(const models::LatfConfig& config, const std::string& what) {
  try {
    models::validate(config);
  } catch (const InvalidArgument& e) {
    throw UsageError(what + ": invalid configuration: " + e.what());
  }
}

std::string error_text(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

// One line of the summary per combination.
struct Row {
  std::string folder, status, message;
  RunResult result;
};

std::string number(double value) {
  if (!std::isfinite(value)) return "nan";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

// Messages go into one TSV field and one table line.
std::string one_field(std::string text) {
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\t' || c == '\n' || c == '\r'; }, ' ');
  return text;
}

// The cells of the table (header first), shared by summary.tsv and the screen.
std::vector<std::vector<std::string>> table(const std::vector<GridAxis>& axes, const std::vector<GridPoint>& points,
                                            const std::vector<Row>& rows) {
  std::vector<std::string> header = {"index", "folder"};
  for (const GridAxis& axis : axes) header.push_back(axis.key);
  for (const char* column : {"train_loss", "validation_loss", "states", "epochs", "seconds", "status", "message"})
    header.push_back(column);
  std::vector<std::vector<std::string>> cells = {header};
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const Row& row = rows[k];
    std::vector<std::string> line = {std::to_string(k), row.folder};
    for (std::size_t a = 0; a < axes.size(); ++a) line.push_back(grid_value_text(axes[a].values[points[k].choice[a]]));
    line.push_back(number(row.result.train_loss));
    line.push_back(number(row.result.validation_loss));
    line.push_back(std::to_string(row.result.states));
    line.push_back(std::to_string(row.result.epochs));
    line.push_back(number(row.result.seconds));
    line.push_back(row.status);
    line.push_back(one_field(row.message));
    cells.push_back(std::move(line));
  }
  return cells;
}

void write_tsv(const std::string& path, const std::vector<std::vector<std::string>>& cells) {
  std::string text;
  for (const auto& line : cells) {
    for (std::size_t c = 0; c < line.size(); ++c) text += (c ? "\t" : "") + line[c];
    text += "\n";
  }
  data::write_file_atomically(path, text.data(), text.size());
}

void print_table(const std::vector<std::vector<std::string>>& cells) {
  std::vector<std::size_t> width(cells.front().size(), 0);
  for (const auto& line : cells)
    for (std::size_t c = 0; c < line.size(); ++c) width[c] = std::max(width[c], line[c].size());
  for (const auto& line : cells) {
    std::string text;
    for (std::size_t c = 0; c < line.size(); ++c) {
      text += line[c];
      if (c + 1 < line.size()) text += std::string(width[c] - line[c].size() + 2, ' ');
    }
    text.erase(text.find_last_not_of(' ') + 1);  // an empty last cell
    std::printf("%s\n", text.c_str());
  }
  std::fflush(stdout);
}

nlohmann::ordered_json grid_json(const std::vector<GridAxis>& axes, const std::vector<GridPoint>& points,
                                 const std::vector<Row>& rows) {
  nlohmann::ordered_json grid = nlohmann::ordered_json::object();
  for (const GridAxis& axis : axes) grid[axis.key] = axis.values;
  nlohmann::ordered_json combinations = nlohmann::ordered_json::array();
  for (std::size_t k = 0; k < rows.size(); ++k) {
    nlohmann::ordered_json values = nlohmann::ordered_json::object();
    for (std::size_t a = 0; a < axes.size(); ++a) values[axes[a].key] = axes[a].values[points[k].choice[a]];
    const RunResult& r = rows[k].result;
    // NaN losses (no completed epoch) are written as null.
    combinations.push_back({{"index", k},
                            {"folder", rows[k].folder},
                            {"values", values},
                            {"status", rows[k].status},
                            {"message", rows[k].message},
                            {"train_loss", r.train_loss},
                            {"validation_loss", r.validation_loss},
                            {"states", r.states},
                            {"epochs", r.epochs},
                            {"seconds", r.seconds}});
  }
  return {{"grid", grid}, {"combinations", combinations}};
}

}  // namespace

std::vector<models::LatfConfig> grid_configurations(const models::LatfConfig& base, const std::vector<GridAxis>& axes,
                                                    const std::vector<GridPoint>& points) {
  // Each value on its own first, so that an out-of-range one is named by key and element.
  for (const GridAxis& axis : axes)
    for (std::size_t i = 0; i < axis.values.size(); ++i) {
      models::LatfConfig config = base;
      axis.set[i](config);
      check(config, axis.where[i]);
    }
  std::vector<models::LatfConfig> configs;
  for (const GridPoint& point : points) {
    models::LatfConfig config = base;
    for (std::size_t a = 0; a < axes.size(); ++a) axes[a].set[point.choice[a]](config);
    check(config, "grid combination " + point.folder);
    configs.push_back(config);
  }
  return configs;
}

int run_grid(const std::vector<GridAxis>& axes, const std::vector<GridPoint>& points,
             const std::vector<models::LatfConfig>& configs, StagedDirectory& out, const RunOne& run, bool quiet) {
  LATF_REQUIRE(points.size() == configs.size(), "run_grid: ", points.size(), " combinations but ", configs.size(),
               " configurations");
  std::vector<Row> rows;
  int failed = 0;
  for (std::size_t k = 0; k < points.size(); ++k) {
    if (!quiet) std::printf("grid %zu/%zu: %s\n", k + 1, points.size(), points[k].folder.c_str());
    std::fflush(stdout);
    const fs::path folder = out.file(points[k].folder);
    fs::create_directories(folder);
    Row row{points[k].folder, "ok", "", run(configs[k], folder)};
    if (!row.result.ok) {
      ++failed;
      row.status = row.result.diverged ? "diverged" : "failed";
      row.message = error_text(row.result.error);
      std::error_code ec;
      if (row.result.partial) {
        row.folder += ".failed";
        fs::rename(folder, out.file(row.folder), ec);
      } else {
        fs::remove_all(folder, ec);
        row.folder.clear();
      }
      if (ec) throw std::runtime_error("grid: cannot move aside " + folder.string() + ": " + ec.message());
      if (!quiet) std::printf("grid %zu/%zu: %s: %s\n", k + 1, points.size(), row.status.c_str(), row.message.c_str());
    }
    rows.push_back(std::move(row));
  }
  const auto cells = table(axes, points, rows);
  write_json(out.file("grid.json"), grid_json(axes, points, rows));
  write_tsv(out.file("summary.tsv"), cells);
  out.commit();
  print_table(cells);
  return failed;
}

}  // namespace latf::cli
