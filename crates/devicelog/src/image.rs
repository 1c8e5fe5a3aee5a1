//! Image paths as `log show` prints them: a process or a sender is named by the last component
//! of its image path (`/usr/libexec/apsd` → `apsd`), and the sender only when it differs from
//! the process. JSON exports, the unifiedlog exports, archives and the process filter all need it.

/// The last component of an image path; the path itself when it has no `/`.
pub(crate) fn short_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// [`short_name`] over bytes, for the filter's test on raw lines.
pub(crate) fn short_name_bytes(path: &[u8]) -> &[u8] {
    memchr::memrchr(b'/', path).map_or(path, |i| &path[i + 1..])
}

/// The sender image's short name, when it is not empty and not the process itself.
pub(crate) fn sender_of(sender_path: &str, process: &str) -> Option<String> {
    let sender = short_name(sender_path);
    (!sender.is_empty() && sender != process).then(|| sender.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_and_senders() {
        assert_eq!(short_name("/usr/libexec/apsd"), "apsd");
        assert_eq!(short_name("kernel"), "kernel");
        assert_eq!(short_name_bytes(b"/usr/sbin/powerd"), b"powerd");
        assert_eq!(
            sender_of("/System/Library/Frameworks/IOKit.framework/IOKit", "apsd").as_deref(),
            Some("IOKit")
        );
        assert_eq!(sender_of("/usr/libexec/apsd", "apsd"), None);
        assert_eq!(sender_of("", "apsd"), None);
    }
}
