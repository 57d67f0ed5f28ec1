#include "ctl/TopScreen.h"

#include <curses.h>

#include <optional>
#include <string>

#include "ctl/Top.h"

namespace vigil::ctl {

TopScreen::TopScreen(Fetch fetch, std::chrono::milliseconds interval)
    : fetch_(std::move(fetch)), interval_(interval) {}

int TopScreen::run() {
  if (!initscr()) return 1;
  cbreak();
  noecho();
  keypad(stdscr, TRUE);
  curs_set(0);
  // getch() waits at most this long, so a key is handled at once and the data is fetched
  // on time.
  timeout(100);
  const bool colors = has_colors();
  if (colors) {
    start_color();
    use_default_colors();
    init_pair(1, COLOR_RED, -1);
    init_pair(2, COLOR_YELLOW, -1);
  }

  TopSort sort = TopSort::Tree;
  std::optional<status::StatusSnapshot> current;
  std::string error;
  auto next = std::chrono::steady_clock::now();
  bool dirty = true;
  for (;;) {
    if (std::chrono::steady_clock::now() >= next) {
      auto snap = fetch_();
      if (snap) {
        current = std::move(*snap);
        error.clear();
      } else {
        error = snap.error().message();
      }
      next = std::chrono::steady_clock::now() + interval_;
      dirty = true;
    }
    if (dirty) {
      erase();
      int rows = 0, cols = 0;
      getmaxyx(stdscr, rows, cols);
      int y = 0;
      if (current) {
        attron(A_REVERSE);
        mvaddnstr(y++, 0, topHeader(*current, sort).c_str(), cols);
        attroff(A_REVERSE);
        const auto row_data = topRows(*current, sort);
        const auto table = topTable(row_data, static_cast<std::size_t>(cols));
        for (std::size_t i = 0; i < table.size() && y < rows - 1; ++i) {
          int attr = i == 0 ? A_BOLD : 0;
          if (colors && i > 0) {
            const std::string& state = row_data[i - 1].state;
            if (state == "failed") attr = COLOR_PAIR(1);
            if (state == "backoff" || state == "restarting") attr = COLOR_PAIR(2);
          }
          attron(attr);
          mvaddstr(y++, 0, table[i].c_str());
          attroff(attr);
        }
      }
      if (!error.empty()) mvaddnstr(rows - 1, 0, ("vigilctl: " + error).c_str(), cols);
      refresh();
      dirty = false;
    }
    const int key = getch();
    if (key == ERR) continue;
    dirty = true;
    switch (key) {
      case 'q':
      case 'Q':
        endwin();
        return 0;
      case 'c':
        sort = TopSort::Cpu;
        break;
      case 'm':
        sort = TopSort::Memory;
        break;
      case 't':
        sort = TopSort::Tasks;
        break;
      case 'r':
        sort = TopSort::Restarts;
        break;
      case 'p':
        sort = TopSort::Tree;
        break;
      default:
        break;  // KEY_RESIZE and anything else: redraw
    }
  }
}

}  // namespace vigil::ctl
