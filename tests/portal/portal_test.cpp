// The portal's API over loopback HTTP, against a lab the engine brought up on libvirt's test
// driver: sign-in, sessions and their cookie, the seat view (hostnames, logins), seat isolation,
// resets (jobs, audit log, rate limit), the organizer endpoints and cards, the pages' headers,
// that no token reaches the server log, and the WebSocket-to-VNC proxy (against a fake VNC server
// in the test). Nothing here contacts anything but 127.0.0.1.

#include "vmlab/portal/server.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "vmlab/engine/engine.hpp"
#include "vmlab/lab/loader.hpp"
#include "vmlab/seats/access.hpp"
#include "vmlab/util/token.hpp"

namespace {

using namespace vmlab;
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using Response = http::response<http::string_body>;

// Keeps every log line, readable while the server writes more.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
public:
    std::string text() {
        std::lock_guard lock(mutex_);
        return m_text;
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        m_text.append(formatted.data(), formatted.size());
    }
    void flush_() override {}

private:
    std::string m_text;
};

using Headers = std::vector<std::pair<http::field, std::string>>;

class PortalTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir = suite_dir() / ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::create_directories(dir / "novnc" / "core");
        std::ofstream(dir / "vmlinuz") << "kernel";
        std::ofstream(dir / "initrd.img") << "initrd";
        std::ofstream(dir / "base.qcow2") << "not really qcow2";
        std::ofstream(dir / "novnc" / "core" / "rfb.js") << "export default class RFB {}\n";
        lab = "p" + std::to_string(::getpid() % 100000) + "-" + std::to_string(counter++);

        const std::string text = "[lab]\nname = \"" + lab + "\"\nseats = 2\ncidr = \"10.231.0.0/16\"\nstorage = \"" +
                                 (dir / "pool").string() +
                                 "\"\n[templates.tiny]\nkernel = \"vmlinuz\"\ninitrd = \"initrd.img\"\n"
                                 "image = \"base.qcow2\"\nformat = \"raw\"\nmemory = \"128MiB\"\n"
                                 "[templates.cloud]\nimage = \"base.qcow2\"\nformat = \"raw\"\ncloud_init = true\n"
                                 "memory = \"128MiB\"\n"
                                 "[networks.lan]\n[vms.a]\ntemplate = \"tiny\"\n"
                                 "[vms.b]\ntemplate = \"cloud\"\nhostname = \"bee-{{seat}}\"\n";
        LoadResult loaded = load_lab_text(text, dir / (lab + ".toml"));
        for (const auto& d : loaded.diagnostics) ADD_FAILURE() << format(d);
        ASSERT_TRUE(loaded.lab);
        Engine engine(conn, store);
        UpOptions up;
        up.domain_type = "test";
        ASSERT_EQ(engine.up(*loaded.lab, make_plan(*loaded.lab), up).failed(), 0u);

        for (unsigned seat : {1u, 2u}) {
            store.set_attendee(lab, seat, "Attendee " + std::to_string(seat), "a" + std::to_string(seat) + "@example.org");
            seat_tokens[seat] = new_token();
            store.set_token_hash(lab, seat, token_hash(seat_tokens[seat]));
        }
        organizer_token = new_token();
        organizer_id = store.add_organizer("olga", token_hash(organizer_token));

        sink = std::make_shared<CaptureSink>();
        previous_logger = spdlog::default_logger();
        auto logger = std::make_shared<spdlog::logger>("portal-test", sink);
        logger->set_level(spdlog::level::debug);
        spdlog::set_default_logger(logger);

        portal::ServerOptions options;
        options.address = "127.0.0.1";
        options.port = 0;
        options.labs = {lab};
        options.novnc_dir = dir / "novnc";
        options.reset_wait_ip = std::nullopt;  // the test driver has no DHCP leases
        options.reset_cooldown = std::chrono::seconds(60);
        options.console_lookup = [this](const std::string& l, unsigned seat,
                                        const std::string& vm) -> std::optional<portal::ConsoleTarget> {
            looked_up.push_back(l + "/" + std::to_string(seat) + "/" + vm);
            if (fake_vnc_port == 0) return std::nullopt;
            return portal::ConsoleTarget{"127.0.0.1", fake_vnc_port, "secret"};
        };
        server = std::make_unique<portal::Server>(conn, store, options);
        port = server->port();
        server_thread = std::thread([this] { server->run(); });
    }

    void TearDown() override {
        if (server) server->stop();
        if (server_thread.joinable()) server_thread.join();
        server.reset();
        if (previous_logger) spdlog::set_default_logger(previous_logger);
        Engine(conn, store).down(lab, KeepImages::no);
        fs::remove_all(dir);
    }

    static fs::path suite_dir() { return fs::temp_directory_path() / ("vmlab-portal-" + std::to_string(::getpid())); }
    static void TearDownTestSuite() { fs::remove_all(suite_dir()); }

    Response request(http::verb method, const std::string& target, const std::string& body = {},
                     const Headers& headers = {}) {
        asio::io_context ioc;
        tcp::socket socket(ioc);
        socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        http::request<http::string_body> req{method, target, 11};
        req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
        for (const auto& [field, value] : headers) req.set(field, value);
        if (!body.empty()) {
            req.set(http::field::content_type, "application/json");
            req.body() = body;
        }
        req.prepare_payload();
        http::write(socket, req);
        beast::flat_buffer buffer;
        Response response;
        http::read(socket, buffer, response);
        beast::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        return response;
    }

    Response get(const std::string& target, const Headers& headers = {}) {
        return request(http::verb::get, target, {}, headers);
    }
    Response post(const std::string& target, const std::string& body, const Headers& headers = {}) {
        return request(http::verb::post, target, body, headers);
    }
    static Headers bearer(const std::string& token) { return {{http::field::authorization, "Bearer " + token}}; }
    static json body_of(const Response& response) { return json::parse(response.body(), nullptr, false); }

    // Signs in with `token`; returns the "Cookie" header value for later requests.
    std::string sign_in(const std::string& token) {
        const Response response = post("/api/session", json{{"token", token}}.dump());
        EXPECT_EQ(response.result(), http::status::ok) << response.body();
        const std::string cookie(response[http::field::set_cookie]);
        return cookie.substr(0, cookie.find(';'));
    }
    static Headers with_cookie(const std::string& cookie) { return {{http::field::cookie, cookie}}; }

    // The test driver keeps volumes in memory only, but a reset renames each fresh overlay's
    // file over the old one on disk: give it the files it would find on a real host.
    void prepare_reset(unsigned seat) {
        fs::create_directories(dir / "pool");
        for (const char* vm : {"a", "b"}) std::ofstream(dir / "pool" / (domain_name(lab, seat, vm) + "-root.qcow2.fresh")) << "";
    }

    json wait_for_job(const std::string& location, const Headers& auth) {
        json job;
        for (int i = 0; i < 300; ++i) {
            const Response response = get(location, auth);
            EXPECT_EQ(response.result(), http::status::ok) << response.body();
            job = body_of(response);
            if (job["state"] == "done" || job["state"] == "failed") return job;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        ADD_FAILURE() << "job still " << job.dump();
        return job;
    }

    static inline int counter = 0;
    fs::path dir;
    std::string lab;
    virt::Connection conn = virt::Connection::open("test:///default");
    StateStore store = StateStore::open(suite_dir() / "state.db");
    std::map<unsigned, std::string> seat_tokens;
    std::string organizer_token;
    std::int64_t organizer_id = 0;
    std::shared_ptr<CaptureSink> sink;
    std::shared_ptr<spdlog::logger> previous_logger;
    std::uint16_t fake_vnc_port = 0;
    std::vector<std::string> looked_up;
    std::unique_ptr<portal::Server> server;
    std::thread server_thread;
    std::uint16_t port = 0;
};

TEST_F(PortalTest, SignInWithSeatTokenGivesAStrictSessionCookie) {
    const Response response = post("/api/session", json{{"token", seat_tokens[1]}}.dump());
    ASSERT_EQ(response.result(), http::status::ok) << response.body();
    EXPECT_EQ(body_of(response)["role"], "seat");
    EXPECT_EQ(body_of(response)["seat"], 1);
    const std::string cookie(response[http::field::set_cookie]);
    EXPECT_TRUE(cookie.starts_with("vmlab_session=")) << cookie;
    EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("; Path=/"), std::string::npos) << cookie;
    EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "plain HTTP: " << cookie;
    EXPECT_EQ(cookie.find(seat_tokens[1]), std::string::npos) << "the session id is not the token";

    const Response seat = get("/api/seat", with_cookie(cookie.substr(0, cookie.find(';'))));
    ASSERT_EQ(seat.result(), http::status::ok) << seat.body();
    const json view = body_of(seat);
    EXPECT_EQ(view["lab"], lab);
    EXPECT_EQ(view["seat"], 1);
    EXPECT_EQ(view["attendee"], "Attendee 1");
    ASSERT_EQ(view["vms"].size(), 2u);
    EXPECT_EQ(view["vms"][0]["name"], "a");
    EXPECT_EQ(view["vms"][0]["state"], "running");
    EXPECT_EQ(view["vms"][0]["ips"][0], "10.231.0.10") << view.dump();
    EXPECT_EQ(view["vms"][0]["hostname"], "a");
    EXPECT_TRUE(view["vms"][0]["login"].is_null()) << "a runs no cloud-init: no account of the attendee's";
    EXPECT_EQ(view["vms"][1]["hostname"], "bee-1");
    EXPECT_EQ(view["vms"][1]["login"]["user"], "student");
    const std::string password = view["vms"][1]["login"]["password"];
    EXPECT_EQ(password, seat_access(store, lab, 1)[1].login->password) << "the password the guest was given";
    EXPECT_EQ(view["vms"][1]["ssh"], "ssh student@" + view["vms"][1]["ips"][0].get<std::string>());
    EXPECT_EQ(seat[http::field::cache_control], "no-store");

    const auto events = store.events(lab, 1u);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().action, "portal.sign-in");
    EXPECT_EQ(events.back().user, "seat 1");
}

TEST_F(PortalTest, WrongOrMissingTokenIsUnauthorized) {
    EXPECT_EQ(post("/api/session", json{{"token", new_token()}}.dump()).result(), http::status::unauthorized);
    EXPECT_EQ(post("/api/session", json{{"token", ""}}.dump()).result(), http::status::unauthorized);
    EXPECT_EQ(post("/api/session", "not json").result(), http::status::bad_request);
    EXPECT_EQ(get("/api/seat").result(), http::status::unauthorized);
    EXPECT_EQ(get("/api/seat", bearer(new_token())).result(), http::status::unauthorized);
    EXPECT_EQ(get("/api/seat", with_cookie("vmlab_session=made-up")).result(), http::status::unauthorized);
    EXPECT_EQ(get("/api/labs").result(), http::status::unauthorized);
    EXPECT_EQ(post("/api/seat/reset", "{}").result(), http::status::unauthorized);
}

TEST_F(PortalTest, BearerTokenWorksForScripts) {
    const Response response = get("/api/seat", bearer(seat_tokens[2]));
    ASSERT_EQ(response.result(), http::status::ok) << response.body();
    EXPECT_EQ(body_of(response)["seat"], 2);
}

TEST_F(PortalTest, SignOutEndsTheSessionAndARevokedTokenEndsItToo) {
    const std::string cookie = sign_in(seat_tokens[1]);
    const Response out = request(http::verb::delete_, "/api/session", {}, with_cookie(cookie));
    EXPECT_EQ(out.result(), http::status::no_content);
    EXPECT_NE(std::string(out[http::field::set_cookie]).find("Max-Age=0"), std::string::npos);
    EXPECT_EQ(get("/api/seat", with_cookie(cookie)).result(), http::status::unauthorized);

    const std::string again = sign_in(seat_tokens[1]);
    store.set_token_hash(lab, 1, token_hash(new_token()));  // e.g. new cards were printed
    EXPECT_EQ(get("/api/seat", with_cookie(again)).result(), http::status::unauthorized);
}

TEST_F(PortalTest, ASeatCannotReachAnotherSeat) {
    const Headers seat1 = with_cookie(sign_in(seat_tokens[1]));
    const std::string other_domain = domain_name(lab, 2, "a");
    for (const std::string& vm : {other_domain, std::string("nope"), std::string("..")}) {
        for (const Response& response : {get("/api/vms/" + vm + "/console", seat1), post("/api/vms/" + vm + "/reset", "{}", seat1)}) {
            EXPECT_EQ(response.result(), http::status::not_found) << vm << ": " << response.body();
            EXPECT_EQ(response.body().find("s02"), std::string::npos) << response.body();
        }
    }
    EXPECT_EQ(post("/api/seat/reset", R"({"vm": "zzz"})", seat1).result(), http::status::not_found);
    // Seat 2's job is invisible to seat 1.
    prepare_reset(2);
    const Response reset = post("/api/seat/reset", "{}", bearer(seat_tokens[2]));
    ASSERT_EQ(reset.result(), http::status::accepted) << reset.body();
    const std::string location(reset[http::field::location]);
    EXPECT_EQ(get(location, seat1).result(), http::status::not_found);
    wait_for_job(location, bearer(seat_tokens[2]));
    // Organizer endpoints refuse seat tokens.
    EXPECT_EQ(get("/api/labs", seat1).result(), http::status::forbidden);
    EXPECT_EQ(post("/api/labs/" + lab + "/seats/2/reset", "{}", seat1).result(), http::status::forbidden);
    EXPECT_EQ(get("/api/labs/" + lab + "/cards", seat1).result(), http::status::forbidden);
    EXPECT_TRUE(looked_up.empty()) << "no console was looked up for a foreign VM";
}

TEST_F(PortalTest, ResetRoundTripIsAuditedAndRateLimited) {
    const Headers seat1 = with_cookie(sign_in(seat_tokens[1]));
    prepare_reset(1);
    const Response reset = post("/api/seat/reset", "{}", seat1);
    ASSERT_EQ(reset.result(), http::status::accepted) << reset.body();
    const std::string location(reset[http::field::location]);
    EXPECT_TRUE(location.starts_with("/api/jobs/")) << location;
    EXPECT_EQ(body_of(reset)["job"]["seat"], 1);
    const json job = wait_for_job(location, seat1);
    EXPECT_EQ(job["state"], "done") << job.dump();

    const auto events = store.events(lab, 1u);
    const auto it = std::find_if(events.begin(), events.end(), [](const EventRecord& e) { return e.action == "reset"; });
    ASSERT_NE(it, events.end());
    EXPECT_EQ(it->result, "ok") << it->detail;
    EXPECT_EQ(it->user, "seat 1");
    EXPECT_NE(store.find_seat(lab, 1)->last_reset_at, 0);

    const Response again = post("/api/vms/a/reset", "", seat1);
    EXPECT_EQ(again.result(), http::status::too_many_requests) << again.body();
    const int retry = std::stoi(std::string(again[http::field::retry_after]));
    EXPECT_GT(retry, 0);
    EXPECT_LE(retry, 60);
    EXPECT_GT(body_of(get("/api/seat", seat1))["reset_available_in"].get<int>(), 0);
}

TEST_F(PortalTest, OrganizerSeesEverySeatResetsAnyAndGetsCards) {
    const Headers organizer = with_cookie(sign_in(organizer_token));
    const Response labs = get("/api/labs", organizer);
    ASSERT_EQ(labs.result(), http::status::ok) << labs.body();
    const json grid = body_of(labs)["labs"];
    ASSERT_EQ(grid.size(), 1u);
    ASSERT_EQ(grid[0]["seats"].size(), 2u);
    EXPECT_EQ(grid[0]["seats"][1]["attendee"], "Attendee 2");
    EXPECT_EQ(grid[0]["seats"][1]["vms"].size(), 2u);
    EXPECT_EQ(get("/api/seat", organizer).result(), http::status::forbidden);

    // Organizers are not rate-limited, but one reset per seat runs at a time.
    for (int round = 0; round < 2; ++round) {
        prepare_reset(2);
        const Response reset = post("/api/labs/" + lab + "/seats/2/reset", "{}", organizer);
        ASSERT_EQ(reset.result(), http::status::accepted) << reset.body();
        EXPECT_EQ(wait_for_job(std::string(reset[http::field::location]), organizer)["state"], "done");
    }
    const auto events = store.events(lab, 2u);
    const auto it = std::find_if(events.begin(), events.end(), [](const EventRecord& e) { return e.action == "reset"; });
    ASSERT_NE(it, events.end());
    EXPECT_EQ(it->user, "organizer olga/" + std::to_string(organizer_id));
    EXPECT_EQ(post("/api/labs/" + lab + "/seats/3/reset", "{}", organizer).result(), http::status::not_found);
    EXPECT_EQ(post("/api/labs/other/seats/1/reset", "{}", organizer).result(), http::status::not_found);

    const Response plain = get("/api/labs/" + lab + "/cards?format=html", organizer);
    ASSERT_EQ(plain.result(), http::status::ok) << plain.body();
    EXPECT_NE(plain.body().find("Attendee 2"), std::string::npos);
    EXPECT_EQ(plain.body().find("vmlab_"), std::string::npos) << "cards without tokens";
    EXPECT_NE(std::string(plain[http::field::content_disposition]).find("attachment"), std::string::npos);

    EXPECT_EQ(post("/api/labs/" + lab + "/cards", R"({"format": "md"})", organizer).result(), http::status::bad_request);
    const Response issued = post("/api/labs/" + lab + "/cards", json{{"format", "md"}, {"confirm", lab}}.dump(), organizer);
    ASSERT_EQ(issued.result(), http::status::ok) << issued.body();
    EXPECT_NE(issued.body().find("/#token=vmlab_"), std::string::npos) << issued.body();
    EXPECT_EQ(get("/api/seat", bearer(seat_tokens[1])).result(), http::status::unauthorized) << "old cards stop working";
}

TEST_F(PortalTest, TokensNeverReachTheServerLog) {
    const std::string wrong = new_token();
    post("/api/session", json{{"token", wrong}}.dump());
    const std::string cookie = sign_in(seat_tokens[1]);
    get("/api/seat", with_cookie(cookie));
    get("/api/seat", bearer(seat_tokens[2]));
    sign_in(organizer_token);
    get("/api/labs", bearer(organizer_token));
    get("/api/seat?token=" + wrong);  // even a token someone put in a URL
    const std::string log = sink->text();
    EXPECT_NE(log.find("POST /api/session"), std::string::npos) << log;
    for (const std::string& secret : {wrong, seat_tokens[1], seat_tokens[2], organizer_token, cookie.substr(14)})
        EXPECT_EQ(log.find(secret), std::string::npos) << log;
    EXPECT_EQ(log.find("vmlab_"), std::string::npos) << log;
}

TEST_F(PortalTest, PagesAreServedWithAStrictPolicy) {
    for (const char* page : {"/", "/proctor", "/console.html?vm=a"}) {
        const Response response = get(page);
        ASSERT_EQ(response.result(), http::status::ok) << page;
        EXPECT_TRUE(std::string(response[http::field::content_type]).starts_with("text/html"));
        const std::string csp(response["Content-Security-Policy"]);
        EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
        EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
        EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
        EXPECT_EQ(response["X-Content-Type-Options"], "nosniff");
        EXPECT_EQ(response.body().find("http://"), std::string::npos) << page << ": no external resources";
        EXPECT_EQ(response.body().find("https://"), std::string::npos) << page << ": no external resources";
    }
    EXPECT_NE(get("/").body().find("id=\"token-input\""), std::string::npos);
    EXPECT_NE(get("/proctor").body().find("id=\"seat-grid\""), std::string::npos);
    const Response script = get("/static/app.js");
    EXPECT_EQ(script.result(), http::status::ok);
    EXPECT_TRUE(std::string(script[http::field::content_type]).starts_with("text/javascript"));
    const Response novnc = get("/novnc/core/rfb.js");
    EXPECT_EQ(novnc.result(), http::status::ok);
    EXPECT_TRUE(std::string(novnc[http::field::content_type]).starts_with("text/javascript"));
    EXPECT_EQ(get("/novnc/../state.db").result(), http::status::not_found);
    EXPECT_EQ(get("/novnc/%2e%2e/state.db").result(), http::status::not_found);
    EXPECT_EQ(get("/static/nothing.js").result(), http::status::not_found);
}

TEST_F(PortalTest, CrossSiteRequestsAreRefused) {
    const Response response = post("/api/session", json{{"token", seat_tokens[1]}}.dump(),
                                   {{http::field::origin, "http://elsewhere.invalid"}});
    EXPECT_EQ(response.result(), http::status::forbidden);
    EXPECT_EQ(response[http::field::set_cookie], "");
    const Response same = post("/api/session", json{{"token", seat_tokens[1]}}.dump(),
                               {{http::field::origin, "http://127.0.0.1:" + std::to_string(port)}});
    EXPECT_EQ(same.result(), http::status::ok);
}

// A fake VNC server: one connection; sends the RFB greeting, then echoes.
class FakeVnc {
public:
    FakeVnc() : m_acceptor(m_ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        m_thread = std::thread([this] {
            beast::error_code ec;
            tcp::socket socket(m_ioc);
            m_acceptor.accept(socket, ec);
            if (ec) return;
            asio::write(socket, asio::buffer(std::string("RFB 003.008\n")), ec);
            std::array<char, 4096> data{};
            while (!ec) {
                const std::size_t n = socket.read_some(asio::buffer(data), ec);
                if (!ec) asio::write(socket, asio::buffer(data.data(), n), ec);
            }
        });
    }
    ~FakeVnc() {
        beast::error_code ignored;
        m_acceptor.close(ignored);
        m_thread.join();
    }
    std::uint16_t port() const { return m_acceptor.local_endpoint().port(); }

private:
    asio::io_context m_ioc;
    tcp::acceptor m_acceptor;
    std::thread m_thread;
};

TEST_F(PortalTest, VncProxyRelaysBytesBothWaysForTheSeatsOwnVm) {
    const std::string cookie = sign_in(seat_tokens[1]);
    EXPECT_EQ(get("/api/vms/a/console", with_cookie(cookie)).result(), http::status::conflict) << "no console yet";

    FakeVnc vnc;
    fake_vnc_port = vnc.port();
    const Response info = get("/api/vms/a/console", with_cookie(cookie));
    ASSERT_EQ(info.result(), http::status::ok) << info.body();
    EXPECT_EQ(body_of(info)["websocket_path"], "/api/vms/a/vnc");
    EXPECT_EQ(body_of(info)["password"], "secret");

    auto open = [&](const std::string& path, const std::string& with_cookie_value,
                    websocket::stream<tcp::socket>& ws) -> beast::error_code {
        ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
            if (!with_cookie_value.empty()) req.set(http::field::cookie, with_cookie_value);
            req.set(http::field::sec_websocket_protocol, "binary");
        }));
        websocket::response_type response;
        beast::error_code ec;
        ws.handshake(response, "127.0.0.1:" + std::to_string(port), path, ec);
        if (!ec) {
            EXPECT_EQ(response[http::field::sec_websocket_protocol], "binary");
        }
        return ec;
    };

    asio::io_context ioc;
    {
        websocket::stream<tcp::socket> refused(ioc);
        EXPECT_TRUE(open("/api/vms/a/vnc", "", refused)) << "no session: refused";
    }
    {
        websocket::stream<tcp::socket> refused(ioc);
        EXPECT_TRUE(open("/api/vms/" + domain_name(lab, 2, "a") + "/vnc", cookie, refused)) << "not this seat's VM";
    }
    websocket::stream<tcp::socket> ws(ioc);
    ASSERT_FALSE(open("/api/vms/a/vnc", cookie, ws));
    beast::flat_buffer buffer;
    ws.read(buffer);
    EXPECT_EQ(beast::buffers_to_string(buffer.data()), "RFB 003.008\n");
    buffer.clear();
    ws.binary(true);
    const std::string hello("RFB 003.008\n\x01\x02\x00\xff", 16);
    ws.write(asio::buffer(hello));
    std::string echoed;
    while (echoed.size() < hello.size()) {
        ws.read(buffer);
        echoed += beast::buffers_to_string(buffer.data());
        buffer.clear();
    }
    EXPECT_EQ(echoed, hello);
    ws.close(websocket::close_code::normal);
    EXPECT_EQ(looked_up.back(), lab + "/1/a");
}

}  // namespace
