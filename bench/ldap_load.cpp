// LDAP load client for bench/ldap_bench.py: drives idsync's LDAP server and slapd with the
// same requests, through OpenLDAP's libldap (so the client is the same for both servers and
// costs little CPU next to them; Python ldap3 could not keep one server core busy).
//
//   ldap_load eq   --url U --bind-dn DN --password-env VAR --base B --names FILE
//                  [--connections 16] [--depth 1] [--seconds 10] [--warmup 1]
//                  [--filter '(uid=%s)'] [--attrs '*,+'|''] [--scope sub|one|base]
//   ldap_load dump --url U --bind-dn DN --password-env VAR --base B
//                  [--filter '(objectClass=inetOrgPerson)'] [--page 1000] [--attrs '*']
//                  [--scope sub] [--max-seconds 600]
//
// eq: one thread per connection, each bound once; every thread sends searches for random
// names from FILE (one per line, RFC 4515-escaped into the filter) with --depth requests
// outstanding, for --warmup seconds unmeasured and then --seconds measured. Each search must
// answer success with exactly one entry; other answers are counted as errors.
// dump: one connection, a paged search (RFC 2696 control, critical) to the end, reading every
// attribute value of every entry.
// Both print one JSON line on stdout; exit status 1 when the server could not be reached or a
// bind failed, 0 otherwise (errors during the run are in the JSON).
#include <ldap.h>
#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode, url, bind_dn, password, base, names_file;
  std::string filter;
  std::string attrs = "*";
  int scope = LDAP_SCOPE_SUBTREE;
  int connections = 16;
  int depth = 1;
  double seconds = 10;
  double warmup = 1;
  int page = 1000;
  double max_seconds = 600;
};

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "ldap_load: %s\n", msg.c_str());
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  if (argc < 2) Die("usage: ldap_load eq|dump --url U --bind-dn DN --password-env VAR --base B");
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) Die("missing value for " + k);
    std::string v = argv[++i];
    if (k == "--url") o.url = v;
    else if (k == "--bind-dn") o.bind_dn = v;
    else if (k == "--password-env") {
      const char* p = std::getenv(v.c_str());
      if (p == nullptr) Die("environment variable " + v + " is not set");
      o.password = p;
    } else if (k == "--base") o.base = v;
    else if (k == "--names") o.names_file = v;
    else if (k == "--filter") o.filter = v;
    else if (k == "--attrs") o.attrs = v;
    else if (k == "--scope") {
      o.scope = v == "base" ? LDAP_SCOPE_BASE : v == "one" ? LDAP_SCOPE_ONELEVEL
                                                           : LDAP_SCOPE_SUBTREE;
    } else if (k == "--connections") o.connections = std::atoi(v.c_str());
    else if (k == "--depth") o.depth = std::atoi(v.c_str());
    else if (k == "--seconds") o.seconds = std::atof(v.c_str());
    else if (k == "--warmup") o.warmup = std::atof(v.c_str());
    else if (k == "--page") o.page = std::atoi(v.c_str());
    else if (k == "--max-seconds") o.max_seconds = std::atof(v.c_str());
    else Die("unknown option " + k);
  }
  if (o.url.empty() || o.base.empty()) Die("--url and --base are required");
  if (o.connections < 1 || o.depth < 1 || o.page < 1) Die("bad --connections/--depth/--page");
  return o;
}

// attribute list: comma-separated; "" means none given (all user attributes).
std::vector<std::string> SplitAttrs(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    size_t c = s.find(',', start);
    if (c == std::string::npos) c = s.size();
    if (c > start) out.push_back(s.substr(start, c - start));
    start = c + 1;
  }
  return out;
}

struct AttrList {
  std::vector<std::string> names;
  std::vector<char*> ptrs;
  explicit AttrList(const std::string& s) : names(SplitAttrs(s)) {
    for (auto& n : names) ptrs.push_back(n.data());
    ptrs.push_back(nullptr);
  }
  char** get() { return names.empty() ? nullptr : ptrs.data(); }
};

LDAP* Connect(const Options& o, std::string& error) {
  LDAP* ld = nullptr;
  int rc = ldap_initialize(&ld, o.url.c_str());
  if (rc != LDAP_SUCCESS) {
    error = std::string("ldap_initialize: ") + ldap_err2string(rc);
    return nullptr;
  }
  int version = LDAP_VERSION3;
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  struct timeval tv = {30, 0};
  ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
  berval cred;
  cred.bv_val = const_cast<char*>(o.password.c_str());
  cred.bv_len = o.password.size();
  rc = ldap_sasl_bind_s(ld, o.bind_dn.empty() ? nullptr : o.bind_dn.c_str(), LDAP_SASL_SIMPLE,
                        &cred, nullptr, nullptr, nullptr);
  if (rc != LDAP_SUCCESS) {
    error = std::string("bind: ") + ldap_err2string(rc);
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    return nullptr;
  }
  return ld;
}

std::string EscapeFilterValue(const std::string& v) {
  std::string out;
  for (unsigned char c : v) {
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0) {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "\\%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string MakeFilter(const std::string& tmpl, const std::string& value) {
  std::string out;
  size_t p = tmpl.find("%s");
  if (p == std::string::npos) return tmpl;
  return tmpl.substr(0, p) + EscapeFilterValue(value) + tmpl.substr(p + 2);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ------------------------------------------------------------------------------------------
// eq

struct Worker {
  std::vector<uint32_t> lat_us;  // measured window only
  int64_t ops = 0, errors = 0, wrong_count = 0, warm_ops = 0;
  std::string first_error;
};

struct Shared {
  const Options* o;
  const std::vector<std::string>* names;
  std::atomic<int> ready{0};
  std::atomic<bool> failed{false};
  std::atomic<int> phase{0};  // 0 wait, 1 warmup, 2 measure, 3 stop
  std::string connect_error;
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
};

void RunWorker(Shared* s, Worker* w, int index) {
  const Options& o = *s->o;
  std::string err;
  LDAP* ld = Connect(o, err);
  if (ld == nullptr) {
    pthread_mutex_lock(&s->mu);
    if (s->connect_error.empty()) s->connect_error = err;
    pthread_mutex_unlock(&s->mu);
    s->failed = true;
    s->ready++;
    return;
  }
  s->ready++;
  while (s->phase.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  AttrList attrs(o.attrs);
  uint64_t x = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(index + 1);
  auto rnd = [&x]() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::map<int, Clock::time_point> pending;  // msgid -> sent
  auto send = [&]() -> bool {
    const std::string& name = (*s->names)[rnd() % s->names->size()];
    std::string filter = MakeFilter(o.filter, name);
    int msgid = 0;
    auto t0 = Clock::now();
    int rc = ldap_search_ext(ld, o.base.c_str(), o.scope, filter.c_str(), attrs.get(), 0,
                             nullptr, nullptr, nullptr, 0, &msgid);
    if (rc != LDAP_SUCCESS) {
      w->errors++;
      if (w->first_error.empty()) w->first_error = std::string("send: ") + ldap_err2string(rc);
      return false;
    }
    pending[msgid] = t0;
    return true;
  };
  for (int i = 0; i < o.depth; ++i) {
    if (!send()) break;
  }
  while (!pending.empty()) {
    LDAPMessage* res = nullptr;
    timeval tv = {30, 0};
    int rc = ldap_result(ld, LDAP_RES_ANY, LDAP_MSG_ALL, &tv, &res);
    if (rc <= 0) {
      w->errors++;
      if (w->first_error.empty()) w->first_error = rc == 0 ? "timeout (30 s)" : "ldap_result failed";
      if (res) ldap_msgfree(res);
      break;
    }
    auto now = Clock::now();
    int msgid = ldap_msgid(res);
    auto it = pending.find(msgid);
    int ph = s->phase.load();
    if (it != pending.end()) {
      int entries = ldap_count_entries(ld, res);
      int code = LDAP_OTHER;
      for (LDAPMessage* m = ldap_first_message(ld, res); m; m = ldap_next_message(ld, m)) {
        if (ldap_msgtype(m) == LDAP_RES_SEARCH_RESULT) {
          ldap_parse_result(ld, m, &code, nullptr, nullptr, nullptr, nullptr, 0);
        }
      }
      if (ph == 2) {
        w->ops++;
        w->lat_us.push_back(static_cast<uint32_t>(
            std::min<int64_t>(UINT32_MAX, std::chrono::duration_cast<std::chrono::microseconds>(
                                              now - it->second).count())));
        if (code != LDAP_SUCCESS) {
          w->errors++;
          if (w->first_error.empty()) w->first_error = std::string("result: ") + ldap_err2string(code);
        } else if (entries != 1) {
          w->wrong_count++;
        }
      } else if (ph == 1) {
        w->warm_ops++;
      }
      pending.erase(it);
    }
    ldap_msgfree(res);
    if (ph < 3) send();
  }
  ldap_unbind_ext_s(ld, nullptr, nullptr);
}

uint32_t Pct(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t k = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.5);
  k = std::max<size_t>(1, std::min(sorted.size(), k));
  return sorted[k - 1];
}

int RunEq(const Options& o) {
  std::vector<std::string> names;
  {
    std::ifstream f(o.names_file);
    std::string line;
    while (std::getline(f, line)) {
      if (!line.empty()) names.push_back(line);
    }
  }
  if (names.empty()) Die("no names in --names " + o.names_file);
  Shared s;
  s.o = &o;
  s.names = &names;
  std::vector<Worker> workers(static_cast<size_t>(o.connections));
  std::vector<std::thread> threads;
  for (int i = 0; i < o.connections; ++i) threads.emplace_back(RunWorker, &s, &workers[i], i);
  while (s.ready.load() < o.connections) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (s.failed) {
    s.phase = 3;
    for (auto& t : threads) t.join();
    std::fprintf(stderr, "ldap_load: %s\n", s.connect_error.c_str());
    return 1;
  }
  s.phase = 1;
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
  double cpu0 = CpuSeconds();
  auto t0 = Clock::now();
  s.phase = 2;
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  s.phase = 3;
  auto t1 = Clock::now();
  double cpu1 = CpuSeconds();
  for (auto& t : threads) t.join();
  std::vector<uint32_t> all;
  int64_t ops = 0, errors = 0, wrong = 0, warm = 0;
  std::string first_error;
  for (auto& w : workers) {
    all.insert(all.end(), w.lat_us.begin(), w.lat_us.end());
    ops += w.ops;
    errors += w.errors;
    wrong += w.wrong_count;
    warm += w.warm_ops;
    if (first_error.empty()) first_error = w.first_error;
  }
  std::sort(all.begin(), all.end());
  const double secs = Seconds(t1 - t0);
  std::string fe;
  for (char c : first_error) fe += (c == '"' || c == '\\') ? '\'' : c;
  std::printf(
      "{\"mode\":\"eq\",\"connections\":%d,\"depth\":%d,\"ops\":%lld,\"seconds\":%.3f,"
      "\"ops_per_s\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
      "\"errors\":%lld,\"not_one_entry\":%lld,\"warmup_ops\":%lld,\"client_cpu_s\":%.3f,"
      "\"names\":%zu,\"first_error\":\"%s\"}\n",
      o.connections, o.depth, static_cast<long long>(ops), secs, ops / secs, Pct(all, 50) / 1e3,
      Pct(all, 90) / 1e3, Pct(all, 99) / 1e3, (all.empty() ? 0 : all.back()) / 1e3,
      static_cast<long long>(errors), static_cast<long long>(wrong), static_cast<long long>(warm),
      cpu1 - cpu0, names.size(), fe.c_str());
  return 0;
}

// ------------------------------------------------------------------------------------------
// dump

int RunDump(const Options& o) {
  std::string err;
  LDAP* ld = Connect(o, err);
  if (ld == nullptr) {
    std::fprintf(stderr, "ldap_load: %s\n", err.c_str());
    return 1;
  }
  AttrList attrs(o.attrs);
  berval* cookie = nullptr;
  int64_t entries = 0, values = 0, value_bytes = 0, pages = 0;
  std::vector<double> page_s;
  std::string error;
  double first_entry_s = -1;
  double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(o.max_seconds);
  bool complete = false;
  while (Clock::now() < deadline) {
    LDAPControl* page_ctrl = nullptr;
    int rc = ldap_create_page_control(ld, o.page, cookie, 1, &page_ctrl);
    if (rc != LDAP_SUCCESS) {
      error = std::string("page control: ") + ldap_err2string(rc);
      break;
    }
    LDAPControl* ctrls[2] = {page_ctrl, nullptr};
    int msgid = 0;
    const auto p0 = Clock::now();
    rc = ldap_search_ext(ld, o.base.c_str(), o.scope, o.filter.c_str(), attrs.get(), 0, ctrls,
                         nullptr, nullptr, 0, &msgid);
    ldap_control_free(page_ctrl);
    if (rc != LDAP_SUCCESS) {
      error = std::string("search: ") + ldap_err2string(rc);
      break;
    }
    bool done_page = false;
    while (!done_page) {
      LDAPMessage* res = nullptr;
      timeval tv = {60, 0};
      rc = ldap_result(ld, msgid, LDAP_MSG_ONE, &tv, &res);
      if (rc <= 0) {
        error = rc == 0 ? "timeout (60 s)" : "ldap_result failed";
        if (res) ldap_msgfree(res);
        break;
      }
      if (rc == LDAP_RES_SEARCH_ENTRY) {
        if (first_entry_s < 0) first_entry_s = Seconds(Clock::now() - t0);
        entries++;
        BerElement* ber = nullptr;
        for (char* a = ldap_first_attribute(ld, res, &ber); a;
             a = ldap_next_attribute(ld, res, ber)) {
          berval** vals = ldap_get_values_len(ld, res, a);
          if (vals) {
            for (berval** v = vals; *v; ++v) {
              values++;
              value_bytes += static_cast<int64_t>((*v)->bv_len);
            }
            ldap_value_free_len(vals);
          }
          ldap_memfree(a);
        }
        if (ber) ber_free(ber, 0);
      } else if (rc == LDAP_RES_SEARCH_RESULT) {
        int code = 0;
        LDAPControl** rctrls = nullptr;
        ldap_parse_result(ld, res, &code, nullptr, nullptr, nullptr, &rctrls, 0);
        pages++;
        page_s.push_back(Seconds(Clock::now() - p0));
        if (cookie) ber_bvfree(cookie);
        cookie = nullptr;
        if (code != LDAP_SUCCESS) {
          error = std::string("result: ") + ldap_err2string(code);
        } else {
          LDAPControl* pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, nullptr);
          ber_int_t estimate = 0;
          berval c = {0, nullptr};
          if (pr == nullptr || ldap_parse_pageresponse_control(ld, pr, &estimate, &c) !=
                                   LDAP_SUCCESS) {
            error = "no paged-results response control";
          } else if (c.bv_len == 0) {
            complete = true;
            ber_memfree(c.bv_val);
          } else {
            cookie = ber_bvdup(&c);
            ber_memfree(c.bv_val);
          }
        }
        if (rctrls) ldap_controls_free(rctrls);
        done_page = true;
      }
      ldap_msgfree(res);
    }
    if (!done_page || !error.empty() || complete) break;
  }
  const double secs = Seconds(Clock::now() - t0);
  const double cpu = CpuSeconds() - cpu0;
  if (cookie) ber_bvfree(cookie);
  ldap_unbind_ext_s(ld, nullptr, nullptr);
  std::sort(page_s.begin(), page_s.end());
  auto pct = [&](double p) {
    if (page_s.empty()) return 0.0;
    size_t k = static_cast<size_t>(p / 100.0 * static_cast<double>(page_s.size()) + 0.5);
    k = std::max<size_t>(1, std::min(page_s.size(), k));
    return page_s[k - 1];
  };
  std::string fe;
  for (char c : error) fe += (c == '"' || c == '\\') ? '\'' : c;
  std::printf(
      "{\"mode\":\"dump\",\"page\":%d,\"entries\":%lld,\"values\":%lld,\"value_bytes\":%lld,"
      "\"pages\":%lld,\"seconds\":%.3f,\"entries_per_s\":%.1f,\"first_entry_ms\":%.3f,"
      "\"page_p50_ms\":%.3f,\"page_p99_ms\":%.3f,\"page_max_ms\":%.3f,\"client_cpu_s\":%.3f,"
      "\"complete\":%s,\"error\":\"%s\"}\n",
      o.page, static_cast<long long>(entries), static_cast<long long>(values),
      static_cast<long long>(value_bytes), static_cast<long long>(pages), secs,
      secs > 0 ? entries / secs : 0.0, first_entry_s * 1e3, pct(50) * 1e3, pct(99) * 1e3,
      (page_s.empty() ? 0.0 : page_s.back()) * 1e3, cpu, complete ? "true" : "false", fe.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  if (o.mode == "eq") {
    if (o.filter.empty()) o.filter = "(uid=%s)";
    if (o.names_file.empty()) Die("eq needs --names FILE");
    return RunEq(o);
  }
  if (o.mode == "dump") {
    if (o.filter.empty()) o.filter = "(objectClass=inetOrgPerson)";
    return RunDump(o);
  }
  Die("mode must be eq or dump");
}
