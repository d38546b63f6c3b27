// `fedchain report RUN_DIR [--out FILE.html] [--compare RUN_DIR...] [--data FILE]`: one
// self-contained HTML page about a run (docs/running.md, "The run report"). The C++ side
// gathers what only fedchain can read (report_facts.cpp: the job, the chain, the audit
// that `fedchain verify` makes) into one JSON file; scripts/fedchain_report.py reads it
// with each run's metrics.csv and draws the page with matplotlib, as inline SVG. Exit 0,
// or after writing the page the exit code `fedchain verify` gives the first run whose
// audit fails (3 for a chain that fails at a height).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "fedchain/core/durable_file.hpp"
#include "report_facts.hpp"

extern char** environ;

namespace fedchain::cli {

namespace {

struct ReportArgs {
  std::string run_dir;
  std::string out;  // default RUN_DIR/report.html
  std::vector<std::string> compare;
  std::string data_path;
};

// The facts file's layout; scripts/fedchain_report.py refuses another (FACTS_FORMAT there).
constexpr int kFactsFormat = 1;
// A path or message that is not UTF-8 is shown with U+FFFD rather than refused.
constexpr auto kReplaceBadUtf8 = nlohmann::json::error_handler_t::replace;
constexpr const char* kScriptName = "fedchain_report.py";
// Debian's interpreter: python3-matplotlib is installed for it (scripts/setup-debian.sh);
// a python3 first on PATH (a venv, conda) may lack it.
constexpr const char* kDefaultPython = "/usr/bin/python3";

// $FEDCHAIN_REPORT_SCRIPT; else beside the binary (the build tree copies it there); else
// PREFIX/share/fedchain/ for an installed bin/fedchain (CMake install rules).
Result<std::filesystem::path> find_script() {
  std::error_code ec;
  if (const char* path = std::getenv("FEDCHAIN_REPORT_SCRIPT"); path != nullptr && *path) {
    if (std::filesystem::is_regular_file(path, ec)) return std::filesystem::path(path);
    return config_error("FEDCHAIN_REPORT_SCRIPT names {}, which is not a file", path);
  }
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const auto bin = exe.parent_path();
  for (const auto& candidate :
       {bin / kScriptName, bin / ".." / "share" / "fedchain" / kScriptName}) {
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate.lexically_normal();
  }
  return config_error(
      "the report script {} is neither beside {} nor in {}: build the fedchain "
      "target (it copies the script), install with `cmake --install`, or set "
      "FEDCHAIN_REPORT_SCRIPT to scripts/{} of the source tree",
      kScriptName, exe.string(), (bin / ".." / "share" / "fedchain").string(), kScriptName);
}

std::string python() {
  const char* path = std::getenv("FEDCHAIN_PYTHON");
  return path != nullptr && *path ? path : kDefaultPython;
}

// Runs the page writer and waits; its messages go straight to our stderr.
Status run_script(const std::filesystem::path& script, const std::filesystem::path& facts,
                  const std::filesystem::path& temp, const std::string& out) {
  const std::string interpreter = python();
  std::vector<std::string> args = {interpreter,    script.string(), "--facts",
                                   facts.string(), "--out",         temp.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (const int err =
          ::posix_spawn(&pid, interpreter.c_str(), nullptr, nullptr, argv.data(), environ);
      err != 0) {
    return config_error(
        "cannot run {} ({}): the report needs Debian's python3 with "
        "python3-matplotlib (scripts/setup-debian.sh), or FEDCHAIN_PYTHON naming "
        "a python3 that has matplotlib",
        interpreter, std::strerror(err));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::error_code ec;
  std::filesystem::remove(temp, ec);
  return runtime_error(
      "{} {} failed (exit {}; its message is above): {} was not written; the facts it was "
      "given are in {}",
      interpreter, script.string(), code, out, facts.string());
}

int run_report(const ReportArgs& args) {
  auto script = find_script();
  if (!script) return report(script.error());
  const std::string out =
      args.out.empty() ? (std::filesystem::path(args.run_dir) / "report.html").string() : args.out;
  std::error_code ec;
  const auto folder = std::filesystem::absolute(out, ec).parent_path();
  if (!args.out.empty() && !std::filesystem::is_directory(folder, ec)) {
    return report(
        config_error("--out {}: the folder {} does not exist; create it or name a file "
                     "in an existing folder",
                     out, folder.string()));
  }
  nlohmann::json facts = {{"format", kFactsFormat}, {"runs", nlohmann::json::array()}};
  int exit = 0;
  std::vector<std::string> dirs = {args.run_dir};
  dirs.insert(dirs.end(), args.compare.begin(), args.compare.end());
  for (const auto& dir : dirs) {
    auto run = gather_run_facts(dir, args.data_path);
    if (!run) return report(run.error());
    facts["runs"].push_back(std::move(run->json));
    if (exit == 0) exit = run->audit_exit_code;
  }
  // Beside the page; kept when the page writer fails, for whoever looks into why.
  const std::filesystem::path facts_path = out + ".facts.json";
  if (auto st =
          write_file_atomically(facts_path, as_bytes(facts.dump(-1, ' ', false, kReplaceBadUtf8)));
      !st) {
    return report(st.error());
  }
  // The page appears whole under its name, or not at all.
  const std::filesystem::path temp = temp_path_for(out);
  if (auto st = run_script(*script, facts_path, temp, out); !st) return report(st.error());
  if (auto st = commit_temp_file(temp, out); !st) return report(st.error());
  std::filesystem::remove(facts_path, ec);
  std::printf("report: %s\n", out.c_str());
  return exit;
}

}  // namespace

void add_report_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report",
      "Write one self-contained HTML page about a run: job, accuracy and loss, time per phase, "
      "the chain, contributions, privacy spent, and the audit `fedchain verify` makes");
  cmd->add_option("run_dir", args->run_dir, "Run directory (a running one too)")->required();
  cmd->add_option("--out", args->out, "The HTML file to write (default RUN_DIR/report.html)");
  cmd->add_option("--compare", args->compare,
                  "Other run directories drawn on the same axes, one colour each")
      ->expected(1, -1);
  cmd->add_option("--data", args->data_path,
                  "Dataset file for the audit where data.path does not resolve from here (as for "
                  "`fedchain verify`)");
  cmd->callback([args, &exit_code] { exit_code = run_report(*args); });
}

}  // namespace fedchain::cli
