//! Request bodies as Vector's `http` sink (and Fluent Bit's `http` output)
//! send them: NDJSON, or one JSON array of events, or one JSON object.

use serde_json::value::RawValue;

/// Split a body into record texts (subslices of `body`, in order).
///
/// `json_array`: the sender said `application/json`. A body that is a JSON
/// array gives one record per element, a JSON object one record; anything
/// else (NDJSON, or a malformed array) is read as lines, so nothing is
/// dropped: a line that is not a JSON object is sealed wrapped
/// (docs/FORMAT.md §5). Blank lines are skipped.
pub fn split(body: &[u8], json_array: bool) -> Vec<&[u8]> {
    let first = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(first) = first else {
        return Vec::new();
    };
    if (json_array || body[first] == b'[')
        && let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(body)
    {
        return items
            .into_iter()
            .map(|r| {
                // A RawValue borrows from `body`: recover its position.
                let s = r.get().as_bytes();
                let off = s.as_ptr() as usize - body.as_ptr() as usize;
                &body[off..off + s.len()]
            })
            .collect();
    }
    body.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn framings() {
        let nd = b"{\"a\":1}\n{\"b\":2}\r\n\n  \nnot json\n";
        assert_eq!(
            split(nd, false),
            vec![&b"{\"a\":1}"[..], b"{\"b\":2}", b"not json"]
        );
        let arr = b" [ {\"a\":1} , {\"b\":[1,2]},\"x\" ] ";
        assert_eq!(
            split(arr, true),
            vec![&b"{\"a\":1}"[..], b"{\"b\":[1,2]}", b"\"x\""]
        );
        assert_eq!(split(b"{\"a\":1}", true), vec![&b"{\"a\":1}"[..]]);
        // A malformed array is kept, as lines.
        assert_eq!(split(b"[{\"a\":1},", true), vec![&b"[{\"a\":1},"[..]]);
        assert!(split(b"  \n", true).is_empty());
        assert!(split(b"[]", true).is_empty());
    }
}
