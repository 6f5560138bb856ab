// A DeliveryWorker in its own process, for the kill -9 tests:
//   alerts_crash_worker <log dir> <state dir>
//     (embedded log) runs the worker until a send is in flight, prints "in-flight", and then
//     only waits to be killed (delivery_worker_test.cc);
//   alerts_crash_worker --kafka <bootstrap servers> <state dir>
//     joins group ewarn-delivery on that cluster with one send at a time, prints "in-flight"
//     at its first send and keeps delivering until it is killed (delivery_handover_test.cc).
// Exit codes: 2 open failed, 3 Make failed, 4 RunOnce failed, 5 nothing to send.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "ewarn/alerts/delivery_worker.h"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc != 4 && argc != 3) return 1;
  const bool kafka = argc == 4 && std::string(argv[1]) == "--kafka";
  if (argc == 4 && !kafka) return 1;
  auto log = kafka ? ewarn::store::OpenKafkaLog({.bootstrap_servers = argv[2], .request_timeout = 15s})
                   : ewarn::store::OpenEmbeddedLog({.dir = argv[1]});
  auto state = ewarn::store::StateStore::Open(
      {.dir = argv[argc - 1], .stores = ewarn::alerts::DeliveryWorker::StoreNames()});
  if (!log.ok() || !state.ok()) return 2;
  ewarn::alerts::DeliveryOptions options{.timeouts = {.connect = 1000ms, .io = 60000ms}};
  if (kafka) options.max_in_flight = 1;
  auto worker = ewarn::alerts::DeliveryWorker::Make(**log, **state, options, nullptr);
  if (!worker.ok()) return 3;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((*worker)->stats().in_flight == 0) {
    if (std::chrono::steady_clock::now() > deadline) return 5;
    if (!(*worker)->RunOnce(10ms).ok()) return 4;
  }
  std::printf("in-flight\n");
  std::fflush(stdout);
  while (kafka) {
    if (!(*worker)->RunOnce(10ms).ok()) return 4;
  }
  while (true) std::this_thread::sleep_for(1s);  // until SIGKILL
}
