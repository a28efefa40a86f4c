// The network side of the portal: the listener, HTTP sessions (plain or TLS) that hand each
// request to the Api, and the VNC proxy that relays a WebSocket to a console's TCP port.
// Every connection runs on its own strand; the io_context runs on a few threads, so a slow
// libvirt call in one request does not stop the others.

#include "vmlab/portal/server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <csignal>
#include <nlohmann/json.hpp>
#include <thread>
#include <type_traits>

#include "api.hpp"

namespace vmlab::portal {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr std::size_t max_body_bytes = 64 * 1024;
constexpr auto read_timeout = std::chrono::seconds(60);

std::string path_only(const Request& request) {
    const auto target = request.target();
    return std::string(target.substr(0, target.find('?')));
}

std::string peer(const tcp::socket& socket) {
    beast::error_code ec;
    const auto endpoint = socket.remote_endpoint(ec);
    return ec ? std::string("?") : endpoint.address().to_string();
}

// Relays one noVNC WebSocket to the TCP port of a VM's VNC server, both ways, until either
// side closes.
template <class Stream>
class VncProxy : public std::enable_shared_from_this<VncProxy<Stream>> {
public:
    explicit VncProxy(Stream&& stream) : m_ws(std::move(stream)), m_vnc(m_ws.get_executor()) {}

    void start(Request request, const ConsoleTarget& target, std::string client) {
        m_request = std::move(request);
        m_client = std::move(client);
        beast::error_code ec;
        const auto address = asio::ip::make_address(target.host, ec);
        if (ec) return refuse("the console address " + target.host + " is not an IP address");
        m_vnc.async_connect(tcp::endpoint(address, target.port), [self = this->shared_from_this()](beast::error_code e) {
            if (e) return self->refuse("cannot reach the VM's VNC server: " + e.message());
            self->accept();
        });
    }

private:
    void refuse(const std::string& why) {
        spdlog::warn("{}: VNC proxy: {}", m_client, why);
        auto response = std::make_shared<Response>(http::status::bad_gateway, m_request.version());
        response->set(http::field::content_type, "application/json");
        response->body() = nlohmann::json{{"error", why}}.dump() + "\n";
        response->keep_alive(false);
        response->prepare_payload();
        http::async_write(m_ws.next_layer(), *response,
                          [self = this->shared_from_this(), response](beast::error_code, std::size_t) {
                              beast::error_code ignored;
                              beast::get_lowest_layer(self->m_ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
                          });
    }

    void accept() {
        beast::get_lowest_layer(m_ws).expires_never();  // the WebSocket has its own timeouts
        m_ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        bool binary = false;
        if (const auto it = m_request.find(http::field::sec_websocket_protocol); it != m_request.end())
            for (auto offered = std::string(it->value()); !offered.empty();) {
                const auto comma = offered.find(',');
                std::string name = offered.substr(0, comma);
                name.erase(0, name.find_first_not_of(' '));
                name.erase(name.find_last_not_of(' ') + 1);
                binary = binary || name == "binary";
                offered = comma == std::string::npos ? "" : offered.substr(comma + 1);
            }
        m_ws.set_option(websocket::stream_base::decorator([binary](websocket::response_type& response) {
            if (binary) response.set(http::field::sec_websocket_protocol, "binary");
        }));
        m_ws.binary(true);
        m_ws.read_message_max(1 << 20);
        m_ws.async_accept(m_request, [self = this->shared_from_this()](beast::error_code ec) {
            if (ec) return self->close();
            self->read_browser();
            self->read_vnc();
        });
    }

    void read_browser() {
        m_ws.async_read(m_from_browser, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->close();
            asio::async_write(self->m_vnc, self->m_from_browser.data(),
                              [self](beast::error_code e, std::size_t n) {
                                  if (e) return self->close();
                                  self->m_from_browser.consume(n);
                                  self->read_browser();
                              });
        });
    }

    void read_vnc() {
        m_vnc.async_read_some(asio::buffer(m_from_vnc), [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
            if (ec) return self->close();
            self->m_writing = true;
            self->m_ws.async_write(asio::buffer(self->m_from_vnc.data(), n), [self](beast::error_code e, std::size_t) {
                self->m_writing = false;
                if (e) return self->close();
                self->read_vnc();
            });
        });
    }

    void close() {
        if (m_closed) return;
        m_closed = true;
        beast::error_code ignored;
        m_vnc.close(ignored);
        if (m_ws.is_open() && !m_writing)
            m_ws.async_close(websocket::close_code::normal, [self = this->shared_from_this()](beast::error_code) {
                beast::get_lowest_layer(self->m_ws).close();
            });
        else
            beast::get_lowest_layer(m_ws).close();
    }

    websocket::stream<Stream> m_ws;
    tcp::socket m_vnc;
    Request m_request;
    std::string m_client;
    beast::flat_buffer m_from_browser;
    std::array<char, 64 * 1024> m_from_vnc{};
    bool m_writing = false;
    bool m_closed = false;
};

// One HTTP connection: reads requests, answers them through the Api, hands a console upgrade
// to a VncProxy.
template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
public:
    static constexpr bool tls = std::is_same_v<Stream, TlsStream>;

    template <class... Args>
    HttpSession(Api& api, tcp::socket&& socket, Args&&... args)
        : m_api(api), m_client(peer(socket)), m_stream(std::move(socket), std::forward<Args>(args)...) {}

    void start() {
        if constexpr (tls) {
            beast::get_lowest_layer(m_stream).expires_after(std::chrono::seconds(30));
            m_stream.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
                if (ec) return spdlog::debug("{}: TLS handshake failed: {}", self->m_client, ec.message());
                self->read();
            });
        } else {
            read();
        }
    }

private:
    void read() {
        m_parser.emplace();
        m_parser->body_limit(max_body_bytes);
        beast::get_lowest_layer(m_stream).expires_after(read_timeout);
        http::async_read(m_stream, m_buffer, *m_parser, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec == http::error::end_of_stream) return self->close();
            if (ec) return;
            self->answer(self->m_parser->release());
        });
    }

    void answer(Request request) {
        const auto start = Clock::now();
        const std::string method(request.method_string());
        const std::string path = path_only(request);
        try {
            if (websocket::is_upgrade(request)) {
                auto console = m_api.console_for_upgrade(request, m_client);
                if (auto* target = std::get_if<ConsoleTarget>(&console)) {
                    spdlog::info("{} {} {} 101", m_client, method, path);
                    std::make_shared<VncProxy<Stream>>(std::move(m_stream))->start(std::move(request), *target, m_client);
                    return;
                }
                m_response = std::get<Response>(std::move(console));
                m_response.keep_alive(false);
            } else {
                m_response = m_api.handle(request, m_client);
            }
        } catch (const std::exception& e) {
            spdlog::error("{} {} {}: {}", m_client, method, path, e.what());
            m_response = Response{http::status::internal_server_error, request.version()};
            m_response.set(http::field::content_type, "application/json");
            m_response.set(http::field::cache_control, "no-store");
            m_response.body() = R"({"error": "the server failed; the organizers find why in its log"})" "\n";
            m_response.keep_alive(request.keep_alive());
            m_response.prepare_payload();
        }
        spdlog::info("{} {} {} {} {} ms", m_client, method, path, m_response.result_int(),
                     std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
        http::async_write(m_stream, m_response, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return;
            if (!self->m_response.keep_alive()) return self->close();
            self->read();
        });
    }

    void close() {
        if constexpr (tls) {
            beast::get_lowest_layer(m_stream).expires_after(std::chrono::seconds(5));
            m_stream.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
        } else {
            beast::error_code ignored;
            m_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        }
    }

    Api& m_api;
    std::string m_client;
    Stream m_stream;
    beast::flat_buffer m_buffer;
    std::optional<http::request_parser<http::string_body>> m_parser;
    Response m_response;
};

}  // namespace

struct Server::Impl {
    Impl(virt::Connection& conn, StateStore& store, ServerOptions opts)
        : options(std::move(opts)),
          api(conn, store, options, !options.tls_cert.empty()),
          acceptor(ioc),
          signals(ioc) {}

    void accept() {
        acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                if (tls_context)
                    std::make_shared<HttpSession<TlsStream>>(api, std::move(socket), *tls_context)->start();
                else
                    std::make_shared<HttpSession<PlainStream>>(api, std::move(socket))->start();
            } else {
                spdlog::warn("accept failed: {}", ec.message());
            }
            accept();
        });
    }

    ServerOptions options;
    Api api;  // outlives the io_context, whose handlers refer to it
    asio::io_context ioc;
    std::optional<ssl::context> tls_context;
    tcp::acceptor acceptor;
    asio::signal_set signals;
    std::atomic<bool> stopped{false};
};

Server::Server(virt::Connection& conn, StateStore& store, ServerOptions options)
    : m_impl(std::make_unique<Impl>(conn, store, std::move(options))) {
    Impl& impl = *m_impl;
    const ServerOptions& o = impl.options;
    if (o.tls_cert.empty() != o.tls_key.empty())
        throw Error("TLS needs both a certificate and its key", "give both --cert FILE and --key FILE, or neither",
                    ExitCode::invalid);
    if (!o.tls_cert.empty()) {
        impl.tls_context.emplace(ssl::context::tls_server);
        impl.tls_context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                                      ssl::context::single_dh_use);
        beast::error_code ec;
        impl.tls_context->use_certificate_chain_file(o.tls_cert.string(), ec);
        if (ec)
            throw Error("cannot read the TLS certificate " + o.tls_cert.string() + ": " + ec.message(),
                        "--cert wants a PEM file with the certificate (and its chain)", ExitCode::invalid);
        impl.tls_context->use_private_key_file(o.tls_key.string(), ssl::context::pem, ec);
        if (ec)
            throw Error("cannot read the TLS key " + o.tls_key.string() + ": " + ec.message(),
                        "--key wants the certificate's private key as a PEM file, readable by this user",
                        ExitCode::invalid);
    }
    beast::error_code ec;
    const auto address = asio::ip::make_address(o.address, ec);
    if (ec)
        throw Error("cannot listen on " + o.address + ": not an IP address", "use --listen ADDRESS:PORT, e.g. 0.0.0.0:8080",
                    ExitCode::invalid);
    const tcp::endpoint endpoint(address, o.port);
    const std::string where = o.address + ":" + std::to_string(o.port);
    auto check = [&](const char* step) {
        if (ec)
            throw Error("cannot listen on " + where + " (" + step + "): " + ec.message(),
                        ec == asio::error::address_in_use ? "another program uses that port: choose another with --listen"
                                                          : "check the address belongs to this host");
    };
    impl.acceptor.open(endpoint.protocol(), ec);
    check("open");
    impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    check("reuse address");
    impl.acceptor.bind(endpoint, ec);
    check("bind");
    impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    check("listen");
}

Server::~Server() {
    stop();
    m_impl->api.stop();
}

std::uint16_t Server::port() const { return m_impl->acceptor.local_endpoint().port(); }

bool Server::tls() const { return m_impl->tls_context.has_value(); }

void Server::run() {
    Impl& impl = *m_impl;
    if (impl.stopped) return;
    if (impl.options.handle_signals == HandleSignals::yes) {
        impl.signals.add(SIGINT);
        impl.signals.add(SIGTERM);
        impl.signals.async_wait([this](beast::error_code ec, int signal) {
            if (ec) return;
            spdlog::info("{}: stopping (running resets finish first)", signal == SIGINT ? "SIGINT" : "SIGTERM");
            stop();
        });
    }
    impl.accept();
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < std::max(impl.options.io_threads, 1u); ++i) threads.emplace_back([&] { impl.ioc.run(); });
    impl.ioc.run();
    for (auto& thread : threads) thread.join();
    impl.api.stop();
}

void Server::stop() {
    Impl& impl = *m_impl;
    if (impl.stopped.exchange(true)) return;
    asio::post(impl.ioc, [&impl] {
        beast::error_code ignored;
        impl.acceptor.close(ignored);
        impl.signals.cancel(ignored);
    });
    impl.ioc.stop();
}

}  // namespace vmlab::portal
