// Several ewarn processes on one Kafka-protocol cluster, as an operator runs them: `ewarn
// dev-kafka` (librdkafka's mock cluster over loopback TCP) as one child and N `ewarn serve
// --kafka` children, each with its own data directory and the cluster's shared key files.
// Header-only; EWARN_BIN is the binary under test.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "child_process.h"
#include "cli_run.h"
#include "ewarn_testing.h"

namespace ewarn::testing {

struct ClusterOptions {
  int brokers = 3;
  int partitions = 8;
  std::vector<std::string> serve_args;  // given to every node
};

// One `ewarn serve --kafka B --data D --http 127.0.0.1:0 --secret-file S --webhook-key-file K`.
class ServeProcess {
 public:
  ServeProcess(const std::vector<std::string>& argv, std::string data_dir)
      : child_(argv), data_dir_(std::move(data_dir)) {
    for (int i = 0; i < 20 && base_.empty(); ++i) {
      auto line = child_.ReadLine(std::chrono::seconds(20));
      if (!line) break;
      std::smatch m;
      if (std::regex_search(*line, m, std::regex("http://127\\.0\\.0\\.1:[0-9]+"))) base_ = m[0].str();
    }
  }
  bool ready() const { return !base_.empty(); }
  const std::string& base() const { return base_; }
  const std::string& data_dir() const { return data_dir_; }
  ChildProcess& child() { return child_; }
  void Kill9() {
    child_.Kill9();
    child_.Wait();
  }
  void Pause() { kill(child_.pid(), SIGSTOP); }
  void Resume() { kill(child_.pid(), SIGCONT); }
  int Terminate() {
    kill(child_.pid(), SIGTERM);
    return child_.Wait();
  }

 private:
  ChildProcess child_;
  std::string data_dir_;
  std::string base_;
};

class Cluster {
 public:
  static std::unique_ptr<Cluster> Start(int nodes, ClusterOptions options = {}) {
    std::unique_ptr<Cluster> c(new Cluster(std::move(options)));
    c->kafka_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        EWARN_BIN, "dev-kafka", "--brokers", std::to_string(c->options_.brokers), "--partitions",
        std::to_string(c->options_.partitions)});
    for (int i = 0; i < 5 && c->bootstrap_.empty(); ++i) {
      auto line = c->kafka_->ReadLine(std::chrono::seconds(30));
      if (!line) break;
      if (line->rfind("bootstrap: ", 0) == 0) c->bootstrap_ = line->substr(11);
    }
    if (c->bootstrap_.empty() || !c->kafka_->ReadLine(std::chrono::seconds(30))) {
      ADD_FAILURE() << "ewarn dev-kafka printed no bootstrap servers";
      return nullptr;
    }
    for (auto [path, seed] : {std::pair{&c->secret_file_, 's'}, std::pair{&c->webhook_key_file_, 'w'}}) {
      *path = c->dir_.Sub(std::string(1, seed) + ".key");
      std::ofstream(*path) << std::string(64, seed == 's' ? 'a' : 'b') << "\n";
    }
    for (int i = 0; i < nodes; ++i) {
      if (!c->AddNode().ready()) {
        ADD_FAILURE() << "serve node " << i << " did not print its http address";
        return nullptr;
      }
    }
    return c;
  }

  const std::string& bootstrap() const { return bootstrap_; }
  size_t size() const { return nodes_.size(); }
  ServeProcess& node(size_t i) { return *nodes_.at(i); }
  const std::string& secret_file() const { return secret_file_; }
  const std::string& webhook_key_file() const { return webhook_key_file_; }
  const TempDir& dir() const { return dir_; }

  // Starts one more node; it joins the consumer group (check ready()).
  ServeProcess& AddNode(std::vector<std::string> extra_args = {}) {
    std::string data = dir_.Sub("node" + std::to_string(nodes_.size()));
    std::vector<std::string> argv{EWARN_BIN, "serve", "--kafka", bootstrap_, "--data", data, "--http",
                                  "127.0.0.1:0", "--secret-file", secret_file_, "--webhook-key-file",
                                  webhook_key_file_};
    argv.insert(argv.end(), options_.serve_args.begin(), options_.serve_args.end());
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    nodes_.push_back(std::make_unique<ServeProcess>(argv, data));
    return *nodes_.back();
  }

  // Freezes the `ewarn dev-kafka` process (SIGSTOP): every broker stops answering, connections
  // stay open, as with a network partition. ResumeKafka() lets it go on with what it held.
  void PauseKafka() { kill(kafka_->pid(), SIGSTOP); }
  void ResumeKafka() { kill(kafka_->pid(), SIGCONT); }

  // `ewarn ARGS --kafka BOOTSTRAP` through the shell.
  CliRun Ewarn(const std::string& args) const {
    return RunCli(std::string(EWARN_BIN) + " " + args + " --kafka " + bootstrap_);
  }

  ~Cluster() {
    for (auto& n : nodes_) n.reset();  // SIGKILL: a test that wants a clean stop calls Terminate()
    if (kafka_) {
      kill(kafka_->pid(), SIGCONT);  // a paused one cannot take its SIGTERM
      kill(kafka_->pid(), SIGTERM);
    }
  }

 private:
  explicit Cluster(ClusterOptions options) : options_(std::move(options)) {}
  ClusterOptions options_;
  TempDir dir_;
  std::unique_ptr<ChildProcess> kafka_;
  std::string bootstrap_;
  std::string secret_file_, webhook_key_file_;
  std::vector<std::unique_ptr<ServeProcess>> nodes_;
};

}  // namespace ewarn::testing
