//! Counted nouns for messages: `1 step`, `3 steps`. Every plural goes through here.

use std::fmt;

/// `Count(n, noun)` displays as `n noun` with the noun made plural when `n != 1`.
#[derive(Debug, Clone, Copy)]
pub struct Count<'a>(pub usize, pub &'a str);

impl fmt::Display for Count<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, Plural(self.0, self.1))
    }
}

/// The noun alone, made plural when the count is not 1.
#[derive(Debug, Clone, Copy)]
pub struct Plural<'a>(pub usize, pub &'a str);

impl fmt::Display for Plural<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(n, noun) = *self;
        if n == 1 {
            return f.write_str(noun);
        }
        // Only the last word of a phrase takes the plural ("InvokeCommand call" → "calls").
        let (head, last) = noun.rsplit_once(' ').map_or(("", noun), |(h, l)| (h, l));
        if !head.is_empty() {
            write!(f, "{head} ")?;
        }
        if last.ends_with('s')
            || last.ends_with('x')
            || last.ends_with("sh")
            || last.ends_with("ch")
        {
            write!(f, "{last}es")
        } else if last.ends_with('y')
            && !last.ends_with("ay")
            && !last.ends_with("ey")
            && !last.ends_with("oy")
        {
            write!(f, "{}ies", &last[..last.len() - 1])
        } else {
            write!(f, "{last}s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        let cases = [
            (Count(1, "step"), "1 step"),
            (Count(2, "step"), "2 steps"),
            (Count(0, "instance"), "0 instances"),
            (Count(3, "InvokeCommand call"), "3 InvokeCommand calls"),
            (Count(2, "dependency"), "2 dependencies"),
            (Count(2, "key"), "2 keys"),
            (Count(2, "pass"), "2 passes"),
        ];
        for (count, expected) in cases {
            assert_eq!(count.to_string(), expected);
        }
    }
}
