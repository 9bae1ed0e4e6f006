// MailStore::usage() cost: one Maildir of N messages (scan, index, memory), and M Maildirs of K
// messages each read once (what `mailctl mailbox list` does). Files are made with W= names, as
// Mailroom delivers them. Usage: usage_bench [N] [M] [K]  (defaults 100000 10000 20)
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "storage/mail_store.h"
#include "storage/maildir/maildir_store.h"
#include "storage/maildir/maildir_usage.h"

using namespace mailroom::storage;
using Clock = std::chrono::steady_clock;

namespace {

void make_maildir(MailStore& store, const std::string& dir, long messages) {
  if (!store.create_maildir(dir).ok()) std::abort();
  for (long i = 0; i < messages; ++i) {
    std::string name = dir + "/cur/" + std::to_string(1700000000 + i) + ".M" + std::to_string(i) +
                       "P1.bench,S=1000,W=1024:2,S";
    int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) std::abort();
    ::close(fd);
  }
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

template <class Fn>
double timed(Fn&& fn) {
  auto start = Clock::now();
  fn();
  return ms_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 100000;
  const long m = argc > 2 ? std::atol(argv[2]) : 10000;
  const long k = argc > 3 ? std::atol(argv[3]) : 20;
  char tmpl[] = "/tmp/usage-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  const std::string root = tmpl;
  // Settled stamps at once (tmpfs/ext4 stamp in nanoseconds), so the index and memory are used.
  auto store = maildir::make_store({true, std::chrono::nanoseconds(0)});

  const std::string big = root + "/big";
  make_maildir(*store, big, n);
  auto check = [&](const char* what, double ms) {
    auto u = store->usage(big);
    std::printf("%-44s %9.2f ms  (%llu messages, %llu bytes)\n", what, ms,
                static_cast<unsigned long long>(u->messages), static_cast<unsigned long long>(u->bytes));
  };
  check("one maildir: first usage (scan, index saved)", timed([&] { (void)store->usage(big); }));
  check("one maildir: unchanged (memory)", timed([&] { (void)store->usage(big); }));
  maildir::forget_usage_cache();
  check("one maildir: new process (index)", timed([&] { (void)store->usage(big); }));
  check("one maildir: POP3 open (for comparison)", timed([&] { (void)store->open(big); }));

  for (long i = 0; i < m; ++i) make_maildir(*store, root + "/many/" + std::to_string(i), k);
  double first = timed([&] {
    for (long i = 0; i < m; ++i) (void)store->usage(root + "/many/" + std::to_string(i));
  });
  maildir::forget_usage_cache();
  double indexed = timed([&] {
    for (long i = 0; i < m; ++i) (void)store->usage(root + "/many/" + std::to_string(i));
  });
  std::printf("%ld maildirs of %ld: first (scans)          %9.2f ms\n", m, k, first);
  std::printf("%ld maildirs of %ld: again, new process (index) %9.2f ms\n", m, k, indexed);
  std::filesystem::remove_all(root);
  return 0;
}
