// UIDLs beyond the native ones: templates (Dovecot's pop3_uidl_format), the readers of
// dovecot-uidlist, courierpop3dsizelist and a plain list, the UIDL map file, and a Maildir
// opened with a map, a template and imports (uniqueness, never reused after delete + deliver).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/mail_store.h"
#include "storage/maildir/maildir_store.h"
#include "storage/maildir/uidl_map.h"
#include "storage/uidl/uidl_sources.h"
#include "storage/uidl/uidl_template.h"
#include "tests/unit/support/temp_dir.h"

using namespace mailroom;
using namespace mailroom::storage;
using namespace std::chrono_literals;
using mailroom::testing::TempDir;

namespace {

uidl::UidlTemplate tmpl(std::string_view text) {
  auto t = uidl::UidlTemplate::parse(text);
  REQUIRE_MESSAGE(t.ok(), (t.ok() ? "" : t.error().message));
  return *t;
}

std::vector<std::string> uids_of(Maildrop& drop) {
  std::vector<std::string> out;
  for (const auto& m : drop.messages()) out.push_back(m.uid);
  return out;
}

std::string file_name_of(const MessageInfo& m) { return std::filesystem::path(m.path).filename().string(); }

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("uidl templates render as Dovecot writes them") {
  uidl::UidlVars v{1, 1234567890, "1700000000.M1P2.host"};  // uidvalidity 0x499602d2
  CHECK(tmpl("%08Xu%08Xv").render(v) == "00000001499602d2");
  CHECK(tmpl("%08Xv%08Xu").render(v) == "499602d200000001");  // UW ipop3d
  CHECK(tmpl("%v.%u").render(v) == "1234567890.1");
  CHECK(tmpl("%u").render(v) == "1");
  CHECK(tmpl("%f").render(v) == "1700000000.M1P2.host");  // Courier
  CHECK(tmpl("%08XUu").render(uidl::UidlVars{255, 1, ""}) == "000000FF");
  CHECK(tmpl("%3f-%u").render(v) == "170-1");  // a width without 0 cuts, as Dovecot does
  CHECK(tmpl("a%%b%u").render(v) == "a%b1");
  CHECK(tmpl("%f").render(uidl::UidlVars{1, 1, "has space"}).size() == 40);  // not a UIDL: SHA-1
  for (std::string bad : {"", "%m", "%g", "%v", "abc", "%", "%08Xf", "%q", "a b%u", "%999u"}) {
    CAPTURE(bad);
    CHECK_FALSE(uidl::UidlTemplate::parse(bad).ok());
  }
  CHECK(uidl::UidlTemplate::parse("%m").error().message.find("not supported") != std::string::npos);
  CHECK_FALSE(uidl::check_uidl_format("native").has_value());
  CHECK(uidl::check_uidl_format("%v").has_value());
}

TEST_CASE("dovecot-uidlist version 3 and 1") {
  const std::string v3 =
      "3 V1234567890 N5 G3085f01b7f11094c501100008c4a11c1\n"
      "1 :1700000001.M1P1.host,S=100,W=102:2,S\n"
      "2 W300 P1700000002.olduidl :1700000002.M2P1.host,S=290\n"
      "4 W50 O3 :1700000004.M4P1.host\n"
      "garbage line\n";
  auto src = uidl::parse_dovecot_uidlist(v3, tmpl("%08Xu%08Xv"));
  REQUIRE(src.ok());
  REQUIRE(src->entries.size() == 3);
  CHECK(src->entries[0].file_base == "1700000001.M1P1.host");
  CHECK(src->entries[0].uidl == "00000001499602d2");
  CHECK(src->entries[1].uidl == "1700000002.olduidl");  // P: the explicit POP3 UIDL
  CHECK(src->entries[2].uidl == "00000004499602d2");
  CHECK(src->malformed_lines == 1);
  CHECK(*src->uidvalidity == 1234567890);
  CHECK(*src->next_uid == 5);

  auto v1 = uidl::parse_dovecot_uidlist("1 1000 3\n1 1.M1.a:2,\n2 2.M2.b\n", tmpl("%v.%u"));
  REQUIRE(v1.ok());
  REQUIRE(v1->entries.size() == 2);
  CHECK(v1->entries[1].file_base == "2.M2.b");
  CHECK(v1->entries[1].uidl == "1000.2");

  CHECK_FALSE(uidl::parse_dovecot_uidlist("", tmpl("%u")).ok());
  CHECK_FALSE(uidl::parse_dovecot_uidlist("2 V1 N1\n", tmpl("%u")).ok());
  CHECK_FALSE(uidl::parse_dovecot_uidlist("3 N4\n", tmpl("%u")).ok());
}

TEST_CASE("courierpop3dsizelist versions 0 to 3") {
  auto v2 = uidl::parse_courier_sizelist("/2 4 1200000000\n1.M1.h,S=10:2,S 12 1:1200000000\n2.M2.h 5 3:1200000000\n");
  REQUIRE(v2.ok());
  REQUIRE(v2->entries.size() == 2);
  CHECK(v2->entries[0].file_base == "1.M1.h");
  CHECK(v2->entries[0].uidl == "UID1-1200000000");
  CHECK(*v2->uidvalidity == 1200000000);
  auto v3 = uidl::parse_courier_sizelist("/3 2 77\nx.y 12 1:77:0\n");
  REQUIRE(v3.ok());
  CHECK(v3->entries.at(0).uidl == "UID1-77");
  auto v1 = uidl::parse_courier_sizelist("/1 3\nx.y 12 2\n");
  REQUIRE(v1.ok());
  CHECK(v1->entries.at(0).uidl == "UID2");
  auto v0 = uidl::parse_courier_sizelist("1.M1+x\"'.h,S=3:2,S 5\n");
  REQUIRE(v0.ok());
  CHECK(v0->entries.at(0).uidl == "1.M1+2Bx+22+27.h,S=3");
  CHECK_FALSE(uidl::parse_courier_sizelist("/9 1\n").ok());
  CHECK(uidl::parse_courier_sizelist("/2 1 1\nonly-a-name\n")->malformed_lines == 1);
}

TEST_CASE("a plain list") {
  auto src = uidl::parse_plain_uidl_list("# old server\n\n1.M1.h:2,S abc\n2.M2.h,S=5 def extra\n3.M3.h\n");
  REQUIRE(src.ok());
  REQUIRE(src->entries.size() == 1);
  CHECK(src->entries[0].file_base == "1.M1.h");
  CHECK(src->entries[0].uidl == "abc");
  CHECK(src->malformed_lines == 2);
}

TEST_CASE("the UIDL map file: round trip and damage") {
  maildir::UidlMap map;
  map.uidvalidity = 99;
  map.next_uid = 7;
  map.template_started = true;
  map.by_base = {{"1.M1.h", "abc"}, {"2.M2.h", "00000001"}};
  std::string text = maildir::encode_uidl_map(map);
  auto back = maildir::decode_uidl_map(text);
  REQUIRE(back.ok());
  CHECK(back->uidvalidity == 99);
  CHECK(back->next_uid == 7);
  CHECK(back->template_started);
  CHECK(back->by_base == map.by_base);

  CHECK_FALSE(maildir::decode_uidl_map(text.substr(0, text.size() - 3)).ok());  // truncated
  std::string flipped = text;
  flipped[flipped.find("abc")] = 'x';
  CHECK_FALSE(maildir::decode_uidl_map(flipped).ok());  // the checksum
  CHECK_FALSE(maildir::decode_uidl_map("").ok());
  CHECK(maildir::decode_uidl_map("junk\n").error().message.find("damaged") != std::string::npos);

  TempDir dir("uidlmap");
  CHECK_FALSE(maildir::read_uidl_map(dir.path())->has_value());
  REQUIRE(maildir::write_uidl_map(dir.path(), map).ok());
  auto read = maildir::read_uidl_map(dir.path());
  REQUIRE(read.ok());
  REQUIRE(read->has_value());
  CHECK((*read)->by_base == map.by_base);
  CHECK_FALSE(std::filesystem::exists(dir.sub(maildir::kUidlMapTmpFile)));
}

TEST_CASE("a Maildir with imports and a template") {
  TempDir tmp("uidlbox");
  const std::string box = tmp.sub("Maildir");
  auto store = maildir::make_store({true, 0ns});
  REQUIRE(store->create_maildir(box).ok());
  auto a = store->deliver(box, "Subject: a\n\nA\n");
  auto b = store->deliver(box, "Subject: b\n\nB\n");
  auto c = store->deliver(box, "Subject: c\n\nC\n");
  REQUIRE((a.ok() && b.ok() && c.ok()));

  SUBCASE("imports show, duplicates and unknown names are skipped") {
    uidl::UidlSource src;
    src.entries = {{*a, "old-1"}, {*b, "old-1"}, {"no.such.file", "old-3"}, {*c, "bad uidl"}, {*c, *a}};
    src.malformed_lines = 1;
    auto report = store->import_uidls(box, src);
    REQUIRE(report.ok());
    CHECK(report->kept == 1);
    CHECK(report->duplicate == 2);  // old-1 given twice; c asking for a's native UIDL
    CHECK(report->no_such_message == 1);
    CHECK(report->invalid == 2);
    auto drop = store->open(box);
    REQUIRE(drop.ok());
    CHECK(uids_of(**drop) == std::vector<std::string>{"old-1", *b, *c});

    SUBCASE("a damaged map fails the open and is kept") {
      const std::string path = box + "/" + maildir::kUidlMapFile;
      std::string text;
      {
        std::ifstream in(path, std::ios::binary);
        text.assign(std::istreambuf_iterator<char>(in), {});
      }
      write_file(path, text.substr(0, text.size() / 2));
      CHECK_FALSE(store->open(box).ok());
      CHECK_FALSE(store->import_uidls(box, src).ok());
      CHECK(std::filesystem::file_size(path) == text.size() / 2);
    }
  }

  SUBCASE("a template: what was there keeps its UIDL, new mail gets increasing uids, never reused") {
    auto format = std::make_shared<const uidl::UidlTemplate>(tmpl("%08Xu%08Xv"));
    OpenOptions options{format};
    auto first = store->open(box, options);
    REQUIRE(first.ok());
    CHECK(uids_of(**first) == std::vector<std::string>{*a, *b, *c});  // already there: native, frozen
    auto d = store->deliver(box, "Subject: d\n\nD\n");
    auto e = store->deliver(box, "Subject: e\n\nE\n");
    REQUIRE((d.ok() && e.ok()));
    auto second = store->open(box, options);
    REQUIRE(second.ok());
    auto uids = uids_of(**second);
    REQUIRE(uids.size() == 5);
    CHECK(uids[3].size() == 16);
    CHECK(uids[3].substr(0, 8) == "00000001");
    CHECK(uids[4].substr(0, 8) == "00000002");
    CHECK(uids[3].substr(8) == uids[4].substr(8));  // one uidvalidity

    // Delete d and e, deliver again: the new messages never get an old UIDL.
    std::set<std::string> seen(uids.begin(), uids.end());
    REQUIRE((*second)->commit_deletions({3, 4}).ok());
    second->reset();
    REQUIRE(store->deliver(box, "Subject: f\n\nF\n").ok());
    auto third = store->open(box, options);
    REQUIRE(third.ok());
    auto after = uids_of(**third);
    REQUIRE(after.size() == 4);
    CHECK(after[3].substr(0, 8) == "00000003");
    CHECK(seen.count(after[3]) == 0);
    // A native session on the same Maildir shows the recorded UIDLs too.
    auto native = store->open(box);
    REQUIRE(native.ok());
    CHECK(uids_of(**native) == after);
    // The map no longer lists the deleted ones.
    auto map = maildir::read_uidl_map(box);
    REQUIRE((map.ok() && map->has_value()));
    CHECK((*map)->by_base.size() == 4);
    CHECK((*map)->next_uid == 4);
  }

  SUBCASE("a Dovecot import sets uidvalidity and next uid for the template") {
    uidl::UidlSource src;
    src.entries = {{*a, "00000001000003e8"}};
    src.uidvalidity = 1000;
    src.next_uid = 10;
    REQUIRE(store->import_uidls(box, src).ok());
    auto map = maildir::read_uidl_map(box);
    REQUIRE((map.ok() && map->has_value()));
    CHECK((*map)->uidvalidity == 1000);
    CHECK((*map)->next_uid == 10);
    // The index (a cache of native UIDLs) does not hide the import from the next open.
    auto drop = store->open(box);
    REQUIRE(drop.ok());
    CHECK((*drop)->messages()[0].uid == "00000001000003e8");
    CHECK(file_name_of((*drop)->messages()[0]).rfind(*a, 0) == 0);
  }
}

TEST_CASE("salvage of a damaged UIDL map: intact lines kept, cut-off and garbled ones dropped") {
  maildir::UidlMap map;
  map.uidvalidity = 1000;
  map.next_uid = 9;
  map.template_started = true;
  map.by_base = {{"1.M1.h", "u-1"}, {"2.M2.h", "u-2"}, {"3.M3.h", "u-3"}, {"4.M4.h", "u-4"}};
  const std::string text = maildir::encode_uidl_map(map);
  REQUIRE(maildir::decode_uidl_map(text).ok());

  SUBCASE("an intact map gives back everything") {
    auto s = maildir::salvage_uidl_map(text);
    CHECK(s.header_kept);
    CHECK(s.dropped == 0);
    CHECK(s.map.by_base == map.by_base);
  }
  SUBCASE("cut off in the middle of an entry: the partial line is not a UIDL") {
    auto cut = text.substr(0, text.find("u-3") + 2);  // "3.M3.h u-" : a valid but wrong UIDL
    CHECK_FALSE(maildir::decode_uidl_map(cut).ok());
    auto s = maildir::salvage_uidl_map(cut);
    CHECK(s.header_kept);
    CHECK(s.map.uidvalidity == 1000);
    CHECK(s.map.next_uid == 9);
    CHECK(s.map.template_started);
    CHECK(s.dropped == 1);
    CHECK(s.map.by_base == std::unordered_map<std::string, std::string>{{"1.M1.h", "u-1"}, {"2.M2.h", "u-2"}});
  }
  SUBCASE("a garbled header and a garbled entry") {
    std::string bad = text;
    bad.replace(0, bad.find('\n'), "mailroom-uid\x01s 1 V1000 N9");
    bad.replace(bad.find("2.M2.h u-2"), 10, "2.M2.h\x7f\x01-2");
    auto s = maildir::salvage_uidl_map(bad);
    CHECK_FALSE(s.header_kept);
    CHECK(s.map.uidvalidity == 0);
    CHECK(s.map.next_uid == 1);
    CHECK(s.dropped == 2);  // the header line and 2.M2.h's
    CHECK(s.map.by_base.size() == 3);
    CHECK(s.map.by_base.count("2.M2.h") == 0);
  }
  SUBCASE("a file name or a UIDL listed twice: the first wins") {
    auto s = maildir::salvage_uidl_map("1.M1.h a\n1.M1.h b\n2.M2.h a\n3.M3.h c\n");
    CHECK_FALSE(s.header_kept);
    CHECK(s.dropped == 2);
    CHECK(s.map.by_base == std::unordered_map<std::string, std::string>{{"1.M1.h", "a"}, {"3.M3.h", "c"}});
  }
}

TEST_CASE("repair_uidls: a damaged map is kept aside, what it still says is served again") {
  TempDir tmp("uidlrepair");
  const std::string box = tmp.sub("Maildir");
  const std::string path = box + "/" + maildir::kUidlMapFile;
  auto store = maildir::make_store({true, 0ns});
  REQUIRE(store->create_maildir(box).ok());

  auto absent = store->repair_uidls(box, nullptr);
  REQUIRE(absent.ok());
  CHECK(absent->state == UidlRepairReport::State::kAbsent);

  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) {
    auto n = store->deliver(box, "Subject: " + std::to_string(i) + "\n\nbody\n");
    REQUIRE(n.ok());
    names.push_back(*n);
  }
  uidl::UidlSource src;
  src.uidvalidity = 1000;
  src.next_uid = 20;
  for (int i = 0; i < 4; ++i) src.entries.push_back({names[i], "old-" + std::to_string(i)});
  REQUIRE(store->import_uidls(box, src)->kept == 4);

  auto intact = store->repair_uidls(box, nullptr);
  REQUIRE(intact.ok());
  CHECK(intact->state == UidlRepairReport::State::kIntact);

  // The disk garbles message 1's line and the file is cut inside message 3's.
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string damaged = text.substr(0, text.find('\n') + 1) + names[0] + " old-0\n" +
                              names[1] + " o\x01d-1\n" + names[2] + " old-2\n" + names[3] +
                              " ol";
  write_file(path, damaged);
  auto refused = store->open(box);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("damaged UIDL map") != std::string::npos);

  auto report = store->repair_uidls(box, nullptr);
  REQUIRE_MESSAGE(report.ok(), (report.ok() ? "" : report.error().message));
  CHECK(report->state == UidlRepairReport::State::kRepaired);
  CHECK(report->header_kept);
  CHECK(report->kept == 2);
  CHECK(report->dropped_lines == 2);
  CHECK(report->gone == 0);
  CHECK(report->without_entry == 2);
  // Nothing is lost: the damaged bytes stay beside the map.
  REQUIRE(report->kept_aside.rfind(path + ".damaged-", 0) == 0);
  {
    std::ifstream in(report->kept_aside, std::ios::binary);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == damaged);
  }
  auto drop = store->open(box);
  REQUIRE(drop.ok());
  CHECK(uids_of(**drop) == std::vector<std::string>{"old-0", names[1], "old-2", names[3]});
  auto map = maildir::read_uidl_map(box);
  REQUIRE((map.ok() && map->has_value()));
  CHECK((*map)->uidvalidity > 1000);  // renewed: template UIDLs with %v cannot repeat an old one
  CHECK((*map)->next_uid == 20);      // and the uids go on where they were

  SUBCASE("a second damage keeps a second copy; a lost header starts templates again") {
    write_file(path, "garbage\n" + names[0] + " old-0\n");
    auto again = store->repair_uidls(box, nullptr);
    REQUIRE(again.ok());
    CHECK(again->state == UidlRepairReport::State::kRepaired);
    CHECK_FALSE(again->header_kept);
    CHECK(again->kept == 1);
    CHECK(again->kept_aside != report->kept_aside);
    CHECK(std::filesystem::exists(report->kept_aside));
    auto renewed = maildir::read_uidl_map(box);
    REQUIRE((renewed.ok() && renewed->has_value()));
    CHECK((*renewed)->uidvalidity > 1000);
    CHECK((*renewed)->next_uid == 1);
    CHECK_FALSE((*renewed)->template_started);
    auto reopened = store->open(box);
    REQUIRE(reopened.ok());
    CHECK(uids_of(**reopened)[0] == "old-0");
  }
  SUBCASE("entries of messages no longer there are dropped") {
    write_file(path, names[0] + " old-0\nno.such.msg x\n");
    auto again = store->repair_uidls(box, nullptr);
    REQUIRE(again.ok());
    CHECK(again->gone == 1);
    CHECK(again->kept == 1);
    CHECK(again->without_entry == 3);
  }
}

TEST_CASE("repair_uidls with the old server's list: lost entries given back, entries read never changed") {
  TempDir tmp("uidlrefill");
  const std::string box = tmp.sub("Maildir");
  const std::string path = box + "/" + maildir::kUidlMapFile;
  auto store = maildir::make_store({true, 0ns});
  REQUIRE(store->create_maildir(box).ok());
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) {
    auto n = store->deliver(box, "Subject: " + std::to_string(i) + "\n\nbody\n");
    REQUIRE(n.ok());
    names.push_back(*n);
  }
  // Damaged: message 0's entry read back, the others lost.
  write_file(path, "mailroom-uidls 1 V7 N9 T1 C4\n" + names[0] + " kept-0\n" + names[1] + " cut");
  uidl::UidlSource old;
  old.entries = {{names[0], "old-0"},      // differs from what was read: the map's entry stays
                 {names[1], "old-1"},      // lost: given back
                 {names[2], "kept-0"},     // another message shows it: skipped
                 {names[3], "bad uidl"},   // not a UIDL: skipped
                 {"no.such.msg", "old-9"}};
  auto report = store->repair_uidls(box, &old);
  REQUIRE(report.ok());
  CHECK(report->state == UidlRepairReport::State::kRepaired);
  CHECK(report->kept == 1);
  CHECK(report->refilled == 1);
  CHECK(report->without_entry == 2);
  auto drop = store->open(box);
  REQUIRE(drop.ok());
  CHECK(uids_of(**drop) == std::vector<std::string>{"kept-0", "old-1", names[2], names[3]});
}
