//! The console's own diagnostics, shown with `L`: a `log::Log` that hands each record to
//! tui-logger's buffer. tui-logger's `init_logger` starts a thread that wakes 100 times a
//! second to move records into the widget's buffer; here the console moves them itself,
//! on each clock tick and before it draws the log, so an idle console runs no such thread.
//! tui-logger's hot buffer holds 1000 records between two moves (a second here); beyond
//! that the widget says how many were lost.

use log::{LevelFilter, Metadata, Record};

struct ToWidget;

impl log::Log for ToWidget {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            tui_logger::Drain::new().log(record);
        }
    }

    fn flush(&self) {}
}

static LOGGER: ToWidget = ToWidget;

/// Send `log` records at `level` and above to the console's log view. A second call
/// changes nothing.
pub fn init(level: LevelFilter) {
    tui_logger::set_default_level(level);
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

/// Move the records logged since the last call into the log view.
pub fn collect() {
    tui_logger::move_events();
}
