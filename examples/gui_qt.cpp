// A desktop window on ParallelClient (Qt 6 Widgets): a host table filled
// from on_event, a progress bar, and a Stop button that calls cancel().
// The GUI thread never blocks: run_command and join run on a thread of
// their own, events are queued onto the GUI thread, cancel() only asks.
//
//   ./build/examples/pssh-gui --hosts 'web[01-20]' 'uptime'
//   sudo ./build/examples/pssh-gui --demo 12                  # a throwaway sshd on loopback
//   QT_QPA_PLATFORM=offscreen sudo ./build/examples/pssh-gui --demo 12 --scripted-stop --screenshot gui.png
//
// --scripted-stop is the CI check: fast hosts finish, Stop is clicked while
// the others run, and the final table must say what join() says of each
// host (exit 0, or Cancelled), with the GUI thread never stalled.
#include "rig.hpp"

#include <pssh/pssh.hpp>

#include <QApplication>
#include <QElapsedTimer>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>
#include <QWidget>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Arguments {
  std::vector<std::string> hosts;
  std::string command = "uptime";
  std::size_t demo = 0;  ///< hosts on a throwaway sshd
  bool scripted_stop = false;
  std::string screenshot;
};

Arguments parse(int argc, char** argv) {
  Arguments a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--hosts") a.hosts = pssh::expand_hosts(value());
    else if (arg == "--demo") a.demo = std::stoul(value());
    else if (arg == "--scripted-stop") a.scripted_stop = true;
    else if (arg == "--screenshot") a.screenshot = value();
    else a.command = arg;
  }
  if (a.hosts.empty() && a.demo == 0) throw std::invalid_argument("give --hosts PATTERN or --demo N");
  return a;
}

enum Column { host_column, state_column, line_column };

class Window : public QWidget {
 public:
  explicit Window(const std::vector<std::string>& hosts) {
    setWindowTitle("pssh");
    resize(720, 420);
    table_.setColumnCount(3);
    table_.setHorizontalHeaderLabels({"host", "state", "last line"});
    table_.horizontalHeader()->setStretchLastSection(true);
    table_.setRowCount(static_cast<int>(hosts.size()));
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      set(i, host_column, hosts[i]);
      set(i, state_column, "waiting");
    }
    progress_.setRange(0, static_cast<int>(hosts.size()));
    progress_.setValue(0);
    for (QWidget* part : std::initializer_list<QWidget*>{&table_, &progress_, &summary_, &stop_})
      layout_.addWidget(part);
  }

  /// On the GUI thread, in order for each host.
  void show_event(const pssh::Event& e) {
    switch (e.kind) {
      case pssh::Event::Kind::connecting: set(e.index, state_column, "connecting"); break;
      case pssh::Event::Kind::connected: set(e.index, state_column, "connected"); break;
      case pssh::Event::Kind::authenticated: set(e.index, state_column, "logged in"); break;
      case pssh::Event::Kind::started: set(e.index, state_column, "running"); break;
      case pssh::Event::Kind::line: set(e.index, line_column, e.text); break;
      case pssh::Event::Kind::finished:
        set(e.index, state_column, "exit " + std::to_string(e.exit_code.value_or(-1)));
        progress_.setValue(progress_.value() + 1);
        break;
      case pssh::Event::Kind::failed:
        set(e.index, state_column, "failed: " + e.text);
        progress_.setValue(progress_.value() + 1);
        break;
      case pssh::Event::Kind::transfer: break;
    }
  }

  std::string text(std::size_t row, Column column) const {
    const QTableWidgetItem* item = table_.item(static_cast<int>(row), column);
    return item != nullptr ? item->text().toStdString() : std::string();
  }
  QPushButton& stop_button() { return stop_; }
  QLabel& summary() { return summary_; }

 private:
  void set(std::size_t row, Column column, const std::string& text) {
    auto item = std::make_unique<QTableWidgetItem>(QString::fromStdString(text));
    table_.setItem(static_cast<int>(row), column, item.release());  // the table owns its items
  }
  QVBoxLayout layout_{this};
  QTableWidget table_;
  QProgressBar progress_;
  QLabel summary_{"running"};
  QPushButton stop_{"Stop"};
};

bool cancelled(const pssh::HostOutput& h) {
  try {
    if (h.exception()) std::rethrow_exception(h.exception());
  } catch (const pssh::Cancelled&) {
    return true;
  } catch (...) {
  }
  return false;
}

/// What join() says of a host, as the table should show it.
std::string expected_state(const pssh::HostOutput& h) {
  if (auto error = h.exception()) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return std::string("failed: ") + e.what();
    }
  }
  return "exit " + std::to_string(h.exit_code().value_or(-1));
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  Arguments a;
  try {
    a = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "pssh-gui: " << e.what() << '\n';
    return 2;
  }
  std::optional<rig::TempDir> home;
  std::optional<rig::Sshd> sshd;
  pssh::ClientOptions options;
  pssh::RunOptions run{.stop_on_errors = false};
  if (a.demo > 0) {
    home.emplace();  // keeps the demo away from this machine's ~/.ssh
    ::setenv("HOME", home->path().c_str(), 1);
    sshd.emplace();
    options = sshd->options();
    a.hosts = rig::loopback_hosts(a.demo);
    // Every third host is quick; the others run until stopped.
    for (std::size_t i = 0; i < a.demo; ++i)
      run.host_args.emplace_back(std::in_place_index<0>, 1, i % 3 == 0 ? "echo quick" : "echo slow; sleep 60");
    a.command = "{0}";
  }
  options.pool_size = std::max<std::size_t>(a.hosts.size(), 1);

  Window window(a.hosts);
  // Queued onto the GUI thread; dropped if the window is gone first.
  options.on_event = [&window](const pssh::Event& e) {
    QMetaObject::invokeMethod(&window, [&window, e] { window.show_event(e); }, Qt::QueuedConnection);
  };
  pssh::ParallelClient client(a.hosts, options);
  QObject::connect(&window.stop_button(), &QPushButton::clicked, [&client, &window] {
    client.cancel();  // only asks: never waits
    window.stop_button().setEnabled(false);
  });

  pssh::Output output;
  std::thread runner([&] {
    output = client.run_command(a.command, run);
    client.join(output);
    QMetaObject::invokeMethod(&app, [&app] { app.exit(0); }, Qt::QueuedConnection);
  });

  // How long the GUI thread went without turning its event loop.
  QElapsedTimer since_tick;
  qint64 longest_stall_ms = 0;
  QTimer heartbeat;
  QObject::connect(&heartbeat, &QTimer::timeout, [&] {
    longest_stall_ms = std::max(longest_stall_ms, since_tick.restart());
  });
  since_tick.start();
  heartbeat.start(10);

  QTimer script;
  if (a.scripted_stop) {
    // Stop once every quick host has finished and every slow one has printed.
    QObject::connect(&script, &QTimer::timeout, [&] {
      for (std::size_t i = 0; i < a.hosts.size(); ++i) {
        bool ready = i % 3 == 0 ? window.text(i, state_column) == "exit 0" : window.text(i, line_column) == "slow";
        if (!ready) return;
      }
      script.stop();
      window.stop_button().click();
    });
    script.start(20);
  }

  window.show();
  app.exec();
  runner.join();
  heartbeat.stop();
  QCoreApplication::sendPostedEvents();  // events queued before join() returned
  window.summary().setText("done");

  int mismatches = 0;
  for (std::size_t i = 0; i < output.size(); ++i) {
    std::string shown = window.text(i, state_column), expected = expected_state(output[i]);
    std::cout << a.hosts[i] << "\t" << shown << "\t" << window.text(i, line_column) << '\n';
    if (shown != expected) {
      std::cout << "  expected: " << expected << '\n';
      ++mismatches;
    }
    if (a.scripted_stop) {
      if (cancelled(output[i]) != (i % 3 != 0)) {
        std::cout << "  expected " << (i % 3 == 0 ? "exit 0" : "Cancelled") << " after the scripted Stop\n";
        ++mismatches;
      }
    }
  }
  std::cout << "longest GUI-thread stall: " << longest_stall_ms << " ms\n";
  if (!a.screenshot.empty()) {
    bool saved = window.grab().save(QString::fromStdString(a.screenshot));
    std::cout << "screenshot: " << a.screenshot << (saved ? "" : " (could not be saved)") << '\n';
    mismatches += saved ? 0 : 1;
  }
  // A generous bound: a busy CI machine may deschedule the process itself.
  if (a.scripted_stop && longest_stall_ms > 2000) ++mismatches;
  return mismatches == 0 ? 0 : 1;
}
