// A DeliveryWorker in its own process, for the kill -9 test in delivery_worker_test.cc:
//   alerts_crash_worker <log dir> <state dir>
// runs the worker until a send is in flight, prints "in-flight", and keeps running until it is
// killed. Exit codes: 2 open failed, 3 Make failed, 4 RunOnce failed, 5 nothing to send.
#include <chrono>
#include <cstdio>
#include <thread>

#include "ewarn/alerts/delivery_worker.h"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc != 3) return 1;
  auto log = ewarn::store::OpenEmbeddedLog({.dir = argv[1]});
  auto state = ewarn::store::StateStore::Open({.dir = argv[2], .stores = ewarn::alerts::DeliveryWorker::StoreNames()});
  if (!log.ok() || !state.ok()) return 2;
  auto worker = ewarn::alerts::DeliveryWorker::Make(
      **log, **state, {.timeouts = {.connect = 1000ms, .io = 60000ms}}, nullptr);
  if (!worker.ok()) return 3;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((*worker)->stats().in_flight == 0) {
    if (std::chrono::steady_clock::now() > deadline) return 5;
    if (!(*worker)->RunOnce(10ms).ok()) return 4;
  }
  std::printf("in-flight\n");
  std::fflush(stdout);
  while (true) std::this_thread::sleep_for(1s);  // until SIGKILL
}
