// The session loops (setting `loops`): the loop choice (pure), the count the setting resolves to,
// and the pool's threads: each loop runs its posts and its work completions on its own thread.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/loop/loop_choice.h"
#include "core/loop/loop_pool.h"

namespace core = mailroom::core;

TEST_CASE("choose_loop: the fewest open sessions, round-robin among equals") {
  std::size_t cursor = 0;
  std::vector<std::size_t> open{0, 0, 0};
  std::vector<std::size_t> picked;
  for (int i = 0; i < 6; ++i) {
    std::size_t loop = core::choose_loop(open, cursor);
    picked.push_back(loop);
  }
  CHECK(picked == std::vector<std::size_t>{0, 1, 2, 0, 1, 2});  // nothing opened: plain round-robin
  open = {3, 1, 2};
  cursor = 0;
  CHECK(core::choose_loop(open, cursor) == 1);
  CHECK(cursor == 2);
  open = {2, 5, 2};
  CHECK(core::choose_loop(open, cursor) == 2);  // equals: the first at or after the cursor
  CHECK(core::choose_loop(open, cursor) == 0);
  std::vector<std::size_t> one{7};
  cursor = 0;
  CHECK(core::choose_loop(one, cursor) == 0);
  CHECK(cursor == 0);
}

TEST_CASE("resolve_loop_count: 0 = one per core, at least 1, at most kMaxLoops") {
  CHECK(core::resolve_loop_count(0, 8) == 8);
  CHECK(core::resolve_loop_count(0, 0) == 1);  // hardware_concurrency() may not know
  CHECK(core::resolve_loop_count(3, 8) == 3);
  CHECK(core::resolve_loop_count(1, 16) == 1);
  CHECK(core::resolve_loop_count(0, 200) == static_cast<std::size_t>(core::kMaxLoops));
  CHECK(core::resolve_loop_count(500, 2) == static_cast<std::size_t>(core::kMaxLoops));
}

TEST_CASE("LoopPool: each loop on its own thread; work completions run on the loop that submitted") {
  core::EventLoop main;
  core::WorkQueue main_work(main);
  core::LoopPool pool(main, main_work);
  pool.start(3);
  REQUIRE(pool.size() == 3);
  CHECK(&pool.loop(0) == &main);
  std::vector<std::thread::id> loop_threads(3), completion_threads(3);
  for (std::size_t i = 1; i < pool.size(); ++i) {
    core::run_on_loop(pool.loop(i), [&, i] {
      loop_threads[i] = std::this_thread::get_id();
      CHECK(pool.loop(i).on_loop_thread());
    });
    std::promise<void> done;
    core::run_on_loop(pool.loop(i), [&, i] {
      pool.work(i).submit([] {}, [&, i] {
        completion_threads[i] = std::this_thread::get_id();
        done.set_value();
      });
    });
    done.get_future().wait();
    CHECK(completion_threads[i] == loop_threads[i]);
    CHECK(loop_threads[i] != std::this_thread::get_id());
  }
  CHECK(loop_threads[1] != loop_threads[2]);
  // Loads: opened on the least loaded loop, closed where they were opened.
  CHECK(pool.open_session() == 0);
  CHECK(pool.open_session() == 1);
  CHECK(pool.open_session() == 2);
  pool.close_session(1);
  CHECK(pool.open_session() == 1);
  auto loads = pool.loads();
  CHECK(loads[1].open == 1);
  CHECK(loads[1].served == 2);
  pool.stop();  // joins
  CHECK(pool.size() == 1);
  main.stop();
  main.run();
}
