#include "api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "assets.hpp"
#include "vmlab/seats/access.hpp"
#include "vmlab/seats/handout.hpp"
#include "vmlab/util/token.hpp"

namespace vmlab::portal {

namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr std::string_view session_cookie = "vmlab_session";
constexpr std::size_t max_token_length = 256;

// No external resources, no inline script or style; noVNC draws on a canvas and sets cursors
// as data: URLs.
constexpr const char* content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Target {
    std::string path;
    std::map<std::string, std::string> query;
};

// Beast's (Boost's) string_view as the standard one.
std::string_view sv(boost::beast::string_view text) { return {text.data(), text.size()}; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// %XX decoding ('+' too, in query strings); nullopt for a malformed escape.
std::optional<std::string> url_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else {
            out += plus_is_space && text[i] == '+' ? ' ' : text[i];
        }
    }
    return out;
}

std::optional<Target> parse_target(boost::beast::string_view beast_target) {
    const std::string_view target = sv(beast_target);
    Target out;
    const auto question = target.find('?');
    auto path = url_decode(target.substr(0, question), false);
    if (!path || path->empty() || path->front() != '/' || path->find('\0') != std::string::npos) return std::nullopt;
    out.path = *path;
    if (question == std::string_view::npos) return out;
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        auto key = url_decode(pair.substr(0, eq), true);
        auto value = url_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
        if (!key || !value) return std::nullopt;
        out.query[*key] = *value;
        query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    }
    return out;
}

std::vector<std::string> split(std::string_view text, char separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        const auto end = text.find(separator, start);
        parts.emplace_back(text.substr(start, end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

Response make_response(const Request& request, http::status status, std::string body, const std::string& type) {
    Response response{status, request.version()};
    response.set(http::field::content_type, type);
    response.keep_alive(request.keep_alive());
    response.body() = std::move(body);
    response.prepare_payload();
    return response;
}

Response json_response(const Request& request, http::status status, const json& body) {
    return make_response(request, status, body.dump() + "\n", "application/json");
}

Response error_response(const Request& request, http::status status, const std::string& message) {
    return json_response(request, status, {{"error", message}});
}

json time_or_null(std::int64_t t) { return t ? json(t) : json(); }

json job_json(const Job& job) {
    return {{"id", job.id},
            {"lab", job.lab},
            {"seat", job.seat},
            {"vm", job.vm.empty() ? json() : json(job.vm)},
            {"state", to_string(job.state)},
            {"error", job.error.empty() ? json() : json(job.error)},
            {"created", job.created_at},
            {"started", time_or_null(job.started_at)},
            {"finished", time_or_null(job.finished_at)}};
}

json optional_job_json(const std::optional<Job>& job) { return job ? job_json(*job) : json(); }

std::string cookie_value(const Request& request, std::string_view name) {
    const auto header = request.find(http::field::cookie);
    if (header == request.end()) return {};
    for (std::string part : split(sv(header->value()), ';')) {
        const auto start = part.find_first_not_of(' ');
        if (start == std::string::npos) continue;
        part.erase(0, start);
        if (part.size() > name.size() && part.starts_with(name) && part[name.size()] == '=')
            return part.substr(name.size() + 1);
    }
    return {};
}

std::string bearer_token(const Request& request) {
    const auto header = request.find(http::field::authorization);
    if (header == request.end()) return {};
    const std::string_view value = sv(header->value());
    constexpr std::string_view scheme = "Bearer ";
    if (value.size() <= scheme.size() ||
        !boost::beast::iequals(boost::beast::string_view(value.data(), scheme.size()), "Bearer "))
        return {};
    return std::string(value.substr(scheme.size()));
}

// A request from a page of another site (the browser says so in Origin) is refused.
bool same_origin(const Request& request) {
    const auto origin = request.find(http::field::origin);
    if (origin == request.end()) return true;  // not a browser, or a same-origin GET
    const auto host = request.find(http::field::host);
    if (host == request.end()) return false;
    const std::string_view value = sv(origin->value());
    const auto scheme_end = value.find("://");
    if (scheme_end == std::string_view::npos) return false;
    return value.substr(scheme_end + 3) == sv(host->value());
}

std::string content_type_for(const std::string& path) {
    static const std::map<std::string, std::string> types{
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".png", "image/png"},                 {".ico", "image/x-icon"},
        {".json", "application/json"},         {".ogg", "audio/ogg"},
        {".mp3", "audio/mpeg"},                {".woff", "font/woff"}};
    const auto dot = path.rfind('.');
    if (dot == std::string::npos) return "application/octet-stream";
    const auto it = types.find(path.substr(dot));
    return it == types.end() ? "application/octet-stream" : it->second;
}

// Only names of the form the planner produces and noVNC's files use.
bool safe_relative_path(const std::string& path) {
    if (path.empty() || path.size() > 200) return false;
    for (const auto& part : split(path, '/')) {
        if (part.empty() || part.starts_with('.')) return false;
        if (!std::all_of(part.begin(), part.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
            }))
            return false;
    }
    return true;
}

std::optional<std::uint64_t> parse_number(const std::string& text) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

// The "vm" of a reset request's optional JSON object body ("" = the whole seat); nullopt when
// the body is not a JSON object.
std::optional<std::string> vm_from_body(const Request& request) {
    if (request.body().empty()) return std::string();
    const json body = json::parse(request.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object()) return std::nullopt;
    return body.contains("vm") && body["vm"].is_string() ? body["vm"].get<std::string>() : std::string();
}

// "vnc://127.0.0.1:5901" -> where the proxy connects. A console listening on every address
// is reached on loopback.
std::optional<ConsoleTarget> parse_vnc_console(const std::string& console) {
    constexpr std::string_view scheme = "vnc://";
    if (!console.starts_with(scheme)) return std::nullopt;
    const std::string rest = console.substr(scheme.size());
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    const auto port = parse_number(rest.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535) return std::nullopt;
    std::string host = rest.substr(0, colon);
    if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]" || host == "localhost") host = "127.0.0.1";
    return ConsoleTarget{host, static_cast<std::uint16_t>(*port), {}};
}

}  // namespace

std::string Principal::actor() const {
    if (role == Role::seat) return "seat " + std::to_string(seat);
    return "organizer " + organizer_name + "/" + std::to_string(organizer_id);
}

Api::Api(virt::Connection& conn, StateStore& store, const ServerOptions& options, bool tls)
    : m_conn(conn),
      m_store(store),
      m_options(options),
      m_tls(tls),
      m_jobs(options.reset_workers, [this](const Job& job) {
          Engine engine(m_conn, m_store);
          ResetOptions reset;
          reset.lab_lock = LockMode::shared;
          reset.wait_ip = m_options.reset_wait_ip;
          reset.wait_lock = Wait::yes;
          reset.jobs = 1;
          reset.actor = job.actor;
          SeatSelection selection{{job.seat}, job.vm.empty() ? std::nullopt : std::optional<std::string>(job.vm)};
          const auto results = engine.reset(job.lab, selection, reset);
          if (results.empty()) throw Error("nothing was reset");
          if (!results.front().ok) throw Error(results.front().error);
          spdlog::info("reset of seat {} of {}{} by {} done in {:.1f} s", job.seat, job.lab,
                       job.vm.empty() ? "" : " (VM " + job.vm + ")", job.actor, results.front().seconds);
      }) {}

std::vector<std::string> Api::served_labs() {
    if (!m_options.labs.empty()) return m_options.labs;
    std::vector<std::string> names;
    for (const auto& lab : m_store.labs()) names.push_back(lab.name);
    return names;
}

std::optional<Principal> Api::principal_for_token(const std::string& token) {
    if (token.empty() || token.size() > max_token_length) return std::nullopt;
    const std::string hash = token_hash(token);
    for (const auto& lab : served_labs())
        if (const auto seat = m_store.seat_for_token_hash(lab, hash))
            return Principal{Principal::Role::seat, lab, *seat, 0, {}, hash};
    if (const auto organizer = m_store.organizer_for_token_hash(hash))
        return Principal{Principal::Role::organizer, {}, 0, organizer->id, organizer->name, hash};
    return std::nullopt;
}

bool Api::still_valid(const Principal& principal) {
    if (principal.role == Principal::Role::organizer) return m_store.organizer_for_token_hash(principal.token_hash).has_value();
    const auto labs = served_labs();
    return std::find(labs.begin(), labs.end(), principal.lab) != labs.end() &&
           m_store.seat_for_token_hash(principal.lab, principal.token_hash) == principal.seat;
}

std::optional<Principal> Api::authenticate(const Request& request) {
    if (const std::string token = bearer_token(request); !token.empty()) return principal_for_token(token);
    const std::string id = cookie_value(request, session_cookie);
    if (id.empty()) return std::nullopt;
    std::optional<Principal> principal;
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_sessions.find(id);
        if (it == m_sessions.end()) return std::nullopt;
        if (it->second.expires < Clock::now()) {
            m_sessions.erase(it);
            return std::nullopt;
        }
        principal = it->second.principal;
    }
    if (!still_valid(*principal)) {
        std::lock_guard lock(m_mutex);
        m_sessions.erase(id);
        return std::nullopt;
    }
    return principal;
}

void Api::audit(const Principal& who, const std::string& lab, unsigned seat, const std::string& vm,
                const std::string& action, const std::string& result, const std::string& detail) {
    EventRecord event;
    event.lab = lab;
    event.seat = seat;
    event.vm = vm;
    event.action = action;
    event.result = result;
    event.detail = detail;
    event.user = who.actor();
    m_store.add_event(event);
}

Response Api::handle(const Request& request, const std::string& client) {
    Response response = [&]() -> Response {
        const auto target = parse_target(request.target());
        if (!target) return error_response(request, http::status::bad_request, "malformed request target");
        const std::string& path = target->path;
        const auto method = request.method();
        if (!path.starts_with("/api/")) {
            if (method != http::verb::get) return error_response(request, http::status::method_not_allowed, "only GET here");
            return static_file(request, path);
        }
        if (method != http::verb::get && !same_origin(request))
            return error_response(request, http::status::forbidden, "cross-site request refused");

        const auto parts = split(std::string_view(path).substr(5), '/');
        auto allow = [&](std::initializer_list<http::verb> verbs) {
            return std::find(verbs.begin(), verbs.end(), method) != verbs.end();
        };
        auto not_allowed = [&] { return error_response(request, http::status::method_not_allowed, "method not allowed here"); };
        if (parts.size() == 1 && parts[0] == "session") {
            if (method == http::verb::post) return sign_in(request, client);
            if (method == http::verb::delete_) return sign_out(request);
            if (method != http::verb::get) return not_allowed();
        }

        const auto who = authenticate(request);
        if (!who) return error_response(request, http::status::unauthorized, "sign in first (POST /api/session)");
        const bool seat = who->role == Principal::Role::seat;
        auto attendees_only = [&] {
            return error_response(request, http::status::forbidden, "this is for attendees; organizers use /api/labs");
        };
        auto organizers_only = [&] {
            return error_response(request, http::status::forbidden, "this needs an organizer token");
        };

        if (parts.size() == 1 && parts[0] == "session") {
            json body = {{"role", seat ? "seat" : "organizer"}};
            if (seat) {
                body["lab"] = who->lab;
                body["seat"] = who->seat;
            } else {
                body["name"] = who->organizer_name;
            }
            return json_response(request, http::status::ok, body);
        }
        if (parts.size() == 1 && parts[0] == "seat") {
            if (!allow({http::verb::get})) return not_allowed();
            return seat ? seat_view(request, *who) : attendees_only();
        }
        if (parts.size() == 2 && parts[0] == "seat" && parts[1] == "reset") {
            if (!allow({http::verb::post})) return not_allowed();
            if (!seat) return attendees_only();
            const auto vm = vm_from_body(request);
            if (!vm) return error_response(request, http::status::bad_request, "the body must be a JSON object");
            return request_reset(request, *who, who->lab, who->seat, *vm);
        }
        if (parts.size() == 3 && parts[0] == "vms") {
            if (!seat) return attendees_only();
            if (parts[2] == "reset") {
                if (!allow({http::verb::post})) return not_allowed();
                return request_reset(request, *who, who->lab, who->seat, parts[1]);
            }
            if (parts[2] == "console") {
                if (!allow({http::verb::get})) return not_allowed();
                return console_info(request, *who, parts[1]);
            }
            if (parts[2] == "vnc")
                return error_response(request, http::status::upgrade_required, "this is a WebSocket endpoint");
        }
        if (parts.size() == 2 && parts[0] == "jobs") {
            if (!allow({http::verb::get})) return not_allowed();
            return job_view(request, *who, parts[1]);
        }
        if (parts.size() == 1 && parts[0] == "labs") {
            if (!allow({http::verb::get})) return not_allowed();
            return seat ? organizers_only() : labs_view(request);
        }
        if (parts.size() == 5 && parts[0] == "labs" && parts[2] == "seats" && parts[4] == "reset") {
            if (!allow({http::verb::post})) return not_allowed();
            if (seat) return organizers_only();
            const auto labs = served_labs();
            const auto number = parse_number(parts[3]);
            const auto record = m_store.find_lab(parts[1]);
            if (std::find(labs.begin(), labs.end(), parts[1]) == labs.end() || !record || !number || *number < 1 ||
                *number > record->seats)
                return error_response(request, http::status::not_found, "no such seat");
            const auto vm = vm_from_body(request);
            if (!vm) return error_response(request, http::status::bad_request, "the body must be a JSON object");
            return request_reset(request, *who, parts[1], static_cast<unsigned>(*number), *vm);
        }
        if (parts.size() == 3 && parts[0] == "labs" && parts[2] == "cards") {
            if (!allow({http::verb::get, http::verb::post})) return not_allowed();
            return seat ? organizers_only() : cards(request, *who, parts[1]);
        }
        return error_response(request, http::status::not_found, "no such endpoint");
    }();

    response.set("Content-Security-Policy", content_security_policy);
    response.set("X-Content-Type-Options", "nosniff");
    response.set("X-Frame-Options", "DENY");
    response.set("Referrer-Policy", "no-referrer");
    response.set("Cross-Origin-Opener-Policy", "same-origin");
    if (m_tls) response.set(http::field::strict_transport_security, "max-age=31536000");
    if (response.find(http::field::cache_control) == response.end()) response.set(http::field::cache_control, "no-store");
    return response;
}

Response Api::sign_in(const Request& request, const std::string& client) {
    const json body = json::parse(request.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("token") || !body["token"].is_string())
        return error_response(request, http::status::bad_request, R"(send {"token": "vmlab_..."})");
    std::string token = body["token"].get<std::string>();
    token.erase(0, token.find_first_not_of(" \t\r\n"));
    token.erase(token.find_last_not_of(" \t\r\n") + 1);
    const auto who = principal_for_token(token);
    if (!who) {
        spdlog::warn("sign-in from {} with a token that opens nothing here", client);
        return error_response(request, http::status::unauthorized,
                              "this token opens no seat here: check it against your seat card, or ask the organizers");
    }
    const std::string id = token_hash(new_token());  // 256 random bits, and not mistaken for a token
    {
        std::lock_guard lock(m_mutex);
        const auto now = Clock::now();
        std::erase_if(m_sessions, [&](const auto& entry) { return entry.second.expires < now; });
        m_sessions[id] = Session{*who, now + m_options.session_lifetime};
    }
    json out = {{"role", who->role == Principal::Role::seat ? "seat" : "organizer"}};
    if (who->role == Principal::Role::seat) {
        out["lab"] = who->lab;
        out["seat"] = who->seat;
        audit(*who, who->lab, who->seat, "", "portal.sign-in", "ok", "from " + client);
    } else {
        out["name"] = who->organizer_name;
    }
    spdlog::info("{} signed in from {}", who->role == Principal::Role::seat ? who->actor() + " of " + who->lab : who->actor(),
                 client);
    Response response = json_response(request, http::status::ok, out);
    response.set(http::field::set_cookie,
                 std::string(session_cookie) + "=" + id + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                     std::to_string(m_options.session_lifetime.count()) + (m_tls ? "; Secure" : ""));
    return response;
}

Response Api::sign_out(const Request& request) {
    const std::string id = cookie_value(request, session_cookie);
    std::optional<Principal> who;
    if (!id.empty()) {
        std::lock_guard lock(m_mutex);
        if (const auto it = m_sessions.find(id); it != m_sessions.end()) {
            who = it->second.principal;
            m_sessions.erase(it);
        }
    }
    if (who && who->role == Principal::Role::seat) audit(*who, who->lab, who->seat, "", "portal.sign-out", "ok", "");
    Response response{http::status::no_content, request.version()};
    response.keep_alive(request.keep_alive());
    response.set(http::field::set_cookie, std::string(session_cookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" +
                                              (m_tls ? "; Secure" : ""));
    response.prepare_payload();
    return response;
}

Response Api::seat_view(const Request& request, const Principal& who) {
    const auto lab = m_store.find_lab(who.lab);
    const auto seat = m_store.find_seat(who.lab, who.seat);
    Engine engine(m_conn, m_store);
    std::map<std::string, VmAccess> access;
    for (VmAccess& vm : seat_access(m_store, who.lab, who.seat)) access.emplace(vm.vm, std::move(vm));
    json vms = json::array();
    for (const auto& row : engine.status(who.lab, who.seat)) {
        json vm = {{"name", row.vm},
                   {"hostname", row.vm},
                   {"state", row.state},
                   {"ips", to_strings(row.ips)},
                   {"leased_ips", to_strings(row.leased_ips)},
                   {"console", row.console.starts_with("vnc://")},
                   {"login", nullptr},
                   {"ssh", ""}};
        if (const auto it = access.find(row.vm); it != access.end()) {
            vm["hostname"] = it->second.hostname;
            if (it->second.login)
                vm["login"] = {{"user", it->second.login->user}, {"password", it->second.login->password}};
            vm["ssh"] = it->second.ssh_command();
        }
        vms.push_back(std::move(vm));
    }
    std::int64_t wait = 0;
    {
        std::lock_guard lock(m_mutex);
        if (const auto it = m_last_reset.find({who.lab, who.seat}); it != m_last_reset.end()) {
            const auto left = std::chrono::ceil<std::chrono::seconds>(it->second + m_options.reset_cooldown - Clock::now());
            wait = std::max<std::int64_t>(0, left.count());
        }
    }
    json body = {{"lab", who.lab},
                 {"title", lab ? lab->title : ""},
                 {"seat", who.seat},
                 {"attendee", seat ? seat->attendee_name : ""},
                 {"state", seat ? to_string(seat->state) : ""},
                 {"last_reset", time_or_null(seat ? seat->last_reset_at : 0)},
                 {"vms", vms},
                 {"reset", optional_job_json(m_jobs.latest(who.lab, who.seat))},
                 {"reset_available_in", wait}};
    return json_response(request, http::status::ok, body);
}

Response Api::request_reset(const Request& request, const Principal& who, const std::string& lab, unsigned seat,
                            const std::string& vm) {
    if (!vm.empty()) {
        const auto vms = m_store.vms(lab);
        if (std::none_of(vms.begin(), vms.end(), [&](const VmRecord& r) { return r.seat == seat && r.vm == vm; }))
            return error_response(request, http::status::not_found, "no such VM in this seat");
    }
    const bool limited = who.role == Principal::Role::seat;
    std::unique_lock lock(m_mutex);
    if (limited) {
        if (const auto it = m_last_reset.find({lab, seat}); it != m_last_reset.end()) {
            const auto left = std::chrono::ceil<std::chrono::seconds>(it->second + m_options.reset_cooldown - Clock::now());
            if (left.count() > 0) {
                lock.unlock();
                spdlog::info("{} of {}: reset refused, next one possible in {} s", who.actor(), lab, left.count());
                Response response = json_response(
                    request, http::status::too_many_requests,
                    {{"error", "this seat was reset moments ago; try again in " + std::to_string(left.count()) + " s"},
                     {"retry_after", left.count()}});
                response.set(http::field::retry_after, std::to_string(left.count()));
                return response;
            }
        }
    }
    const auto job = m_jobs.submit(lab, seat, vm, who.actor());
    if (!job) {
        lock.unlock();
        return json_response(request, http::status::conflict,
                             {{"error", "a reset of this seat is already queued or running"},
                              {"job", optional_job_json(m_jobs.latest(lab, seat))}});
    }
    if (limited) m_last_reset[{lab, seat}] = Clock::now();
    lock.unlock();
    spdlog::info("{} asked to reset seat {} of {}{} (job {})", who.actor(), seat, lab, vm.empty() ? "" : " VM " + vm, job->id);
    Response response = json_response(request, http::status::accepted, {{"job", job_json(*job)}});
    response.set(http::field::location, "/api/jobs/" + std::to_string(job->id));
    return response;
}

std::optional<ConsoleTarget> Api::find_console(const std::string& lab, unsigned seat, const std::string& vm) {
    if (m_options.console_lookup) return m_options.console_lookup(lab, seat, vm);
    Engine engine(m_conn, m_store);
    for (const auto& row : engine.status(lab, seat)) {
        if (row.vm != vm) continue;
        auto target = parse_vnc_console(row.console);
        if (target) target->password = engine.console_password(row.domain);
        return target;
    }
    return std::nullopt;
}

Response Api::console_info(const Request& request, const Principal& who, const std::string& vm) {
    const auto vms = m_store.vms(who.lab);
    if (std::none_of(vms.begin(), vms.end(), [&](const VmRecord& r) { return r.seat == who.seat && r.vm == vm; }))
        return error_response(request, http::status::not_found, "no such VM in this seat");
    const auto target = find_console(who.lab, who.seat, vm);
    if (!target)
        return error_response(request, http::status::conflict,
                              "this VM has no graphical (VNC) console right now: is it running? Reset it if it is stuck");
    audit(who, who.lab, who.seat, vm, "portal.console", "ok", "graphical console opened");
    return json_response(request, http::status::ok,
                         {{"vm", vm}, {"websocket_path", "/api/vms/" + vm + "/vnc"}, {"password", target->password}});
}

std::variant<ConsoleTarget, Response> Api::console_for_upgrade(const Request& request, const std::string& client) {
    auto finish = [&](Response response) {
        response.set(http::field::cache_control, "no-store");
        return response;
    };
    const auto target = parse_target(request.target());
    const auto parts = target ? split(std::string_view(target->path), '/') : std::vector<std::string>{};
    // "", "api", "vms", NAME, "vnc"
    if (parts.size() != 5 || parts[1] != "api" || parts[2] != "vms" || parts[4] != "vnc")
        return finish(error_response(request, http::status::not_found, "no such WebSocket endpoint"));
    if (!same_origin(request)) return finish(error_response(request, http::status::forbidden, "cross-site request refused"));
    const auto who = authenticate(request);
    if (!who) return finish(error_response(request, http::status::unauthorized, "sign in first"));
    if (who->role != Principal::Role::seat)
        return finish(error_response(request, http::status::forbidden, "consoles are opened by the seat's attendee"));
    const auto vms = m_store.vms(who->lab);
    const std::string& vm = parts[3];
    if (std::none_of(vms.begin(), vms.end(), [&](const VmRecord& r) { return r.seat == who->seat && r.vm == vm; }))
        return finish(error_response(request, http::status::not_found, "no such VM in this seat"));
    auto console = find_console(who->lab, who->seat, vm);
    if (!console) return finish(error_response(request, http::status::conflict, "this VM has no VNC console right now"));
    spdlog::info("{} of {} from {}: console of {} via the VNC proxy", who->actor(), who->lab, client, vm);
    return *console;
}

Response Api::job_view(const Request& request, const Principal& who, const std::string& id) {
    const auto number = parse_number(id);
    const auto job = number ? m_jobs.find(*number) : std::nullopt;
    bool visible = false;
    if (job && who.role == Principal::Role::seat) visible = job->lab == who.lab && job->seat == who.seat;
    if (job && who.role == Principal::Role::organizer) {
        const auto labs = served_labs();
        visible = std::find(labs.begin(), labs.end(), job->lab) != labs.end();
    }
    if (!visible) return error_response(request, http::status::not_found, "no such job");
    return json_response(request, http::status::ok, job_json(*job));
}

Response Api::labs_view(const Request& request) {
    json labs = json::array();
    Engine engine(m_conn, m_store);
    for (const auto& name : served_labs()) {
        const auto record = m_store.find_lab(name);
        if (!record) continue;
        std::map<unsigned, json> vms;
        for (const auto& row : engine.status(name))
            vms[row.seat].push_back({{"name", row.vm}, {"state", row.state}, {"ips", join(row.ips, ",")}});
        std::map<unsigned, std::pair<unsigned, std::string>> failures;  // seat -> (count, last detail)
        for (const auto& event : m_store.events(name, std::nullopt, 1000))
            if (event.result == "failed") {
                auto& f = failures[event.seat];
                ++f.first;
                f.second = event.action + ": " + event.detail;
            }
        json seats = json::array();
        for (const auto& seat : m_store.seats(name)) {
            if (seat.seat > record->seats) continue;
            const auto failed = failures.find(seat.seat);
            seats.push_back({{"seat", seat.seat},
                             {"attendee", seat.attendee_name},
                             {"email", seat.attendee_email},
                             {"state", to_string(seat.state)},
                             {"error", seat.error},
                             {"token", seat.token_created_at != 0},
                             {"last_reset", time_or_null(seat.last_reset_at)},
                             {"vms", vms.contains(seat.seat) ? vms[seat.seat] : json::array()},
                             {"failures", failed == failures.end() ? 0u : failed->second.first},
                             {"last_failure", failed == failures.end() ? json() : json(failed->second.second)},
                             {"reset", optional_job_json(m_jobs.latest(name, seat.seat))}});
        }
        labs.push_back({{"lab", name}, {"title", record->title}, {"seats", seats}});
    }
    return json_response(request, http::status::ok, {{"labs", labs}});
}

Response Api::cards(const Request& request, const Principal& who, const std::string& lab) {
    const auto labs = served_labs();
    const auto record = m_store.find_lab(lab);
    if (!record || std::find(labs.begin(), labs.end(), lab) == labs.end())
        return error_response(request, http::status::not_found, "no such lab");
    std::string format = "html";
    bool issue = false;
    if (request.method() == http::verb::get) {
        if (const auto target = parse_target(request.target()); target && target->query.contains("format"))
            format = target->query.at("format");
    } else {
        const json body = json::parse(request.body(), nullptr, false);
        if (body.is_discarded() || !body.is_object())
            return error_response(request, http::status::bad_request, "the body must be a JSON object");
        if (body.contains("format") && body["format"].is_string()) format = body["format"].get<std::string>();
        if (!body.contains("confirm") || body["confirm"] != lab)
            return error_response(request, http::status::bad_request,
                                  "issuing new tokens revokes every printed card of " + lab +
                                      ": send {\"confirm\": \"" + lab + "\"} to go ahead");
        issue = true;
    }
    const std::map<std::string, HandoutFormat> formats{
        {"html", HandoutFormat::html}, {"md", HandoutFormat::md}, {"csv", HandoutFormat::csv}};
    if (!formats.contains(format)) return error_response(request, http::status::bad_request, "format is html, md or csv");

    std::vector<SeatRecord> seats;
    for (auto& s : m_store.seats(lab))
        if (s.seat <= record->seats) seats.push_back(std::move(s));
    std::map<std::string, std::string> consoles;
    Engine engine(m_conn, m_store);
    for (const auto& row : engine.status(lab)) consoles[row.domain] = row.console;
    std::vector<Handout> handouts = make_handouts(m_store, lab, seats, consoles);
    std::string portal_url;
    if (const auto host = request.find(http::field::host); host != request.end())
        portal_url = std::string(m_tls ? "https://" : "http://") + std::string(sv(host->value()));
    std::size_t issued = 0;
    if (issue) {
        issued = issue_handout_tokens(handouts);
        commit_handout_tokens(m_store, lab, handouts, format + " cards from the portal", who.actor());
        spdlog::warn("{} issued {} fresh token(s) for {}: the earlier cards no longer work", who.actor(), issued, lab);
    } else {
        audit(who, lab, 0, "", "portal.cards", "ok", format + " cards without tokens");
    }
    const std::string text = render_handouts(formats.at(format), *record, handouts, issued ? portal_url : "");
    const std::string type = format == "html" ? "text/html; charset=utf-8"
                             : format == "csv" ? "text/csv; charset=utf-8"
                                               : "text/markdown; charset=utf-8";
    Response response = make_response(request, http::status::ok, text, type);
    response.set(http::field::content_disposition, "attachment; filename=\"" + lab + "-cards." + format + "\"");
    return response;
}

Response Api::static_file(const Request& request, const std::string& path) {
    std::string name;
    if (path == "/" || path == "/index.html") name = "index.html";
    else if (path == "/console.html") name = "console.html";
    else if (path == "/proctor" || path == "/proctor.html") name = "proctor.html";
    else if (path.starts_with("/static/")) name = path.substr(8);
    if (!name.empty()) {
        if (const Asset* asset = find_asset(name)) {
            Response response =
                make_response(request, http::status::ok, std::string(asset->data), std::string(asset->content_type));
            response.set(http::field::cache_control, "no-cache");
            return response;
        }
        return error_response(request, http::status::not_found, "no such page");
    }
    if (path.starts_with("/novnc/")) {
        const std::string relative = path.substr(7);
        if (!safe_relative_path(relative)) return error_response(request, http::status::not_found, "no such file");
        const auto file = m_options.novnc_dir / relative;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(file, ec))
            return error_response(request, http::status::not_found,
                                  "no such file (is noVNC installed? apt-get install novnc)");
        std::ifstream in(file, std::ios::binary);
        std::ostringstream content;
        content << in.rdbuf();
        Response response = make_response(request, http::status::ok, content.str(), content_type_for(relative));
        response.set(http::field::cache_control, "max-age=3600");
        return response;
    }
    return error_response(request, http::status::not_found, "no such page");
}

}  // namespace vmlab::portal
