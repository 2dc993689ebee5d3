//! TODO(helper): pseudonym
