//! The Segment region nearest a request's origin, for connectors with `region: "auto"`
//! (CONTRACTS §5): European origins go to the EU endpoint, everything else to the US one.

use crate::config::Region;

/// ISO 3166-1 alpha-2 codes of the EU member states and the other EEA countries (IS, LI, NO).
pub const EU_EEA_COUNTRIES: [&str; 30] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO",
];

/// The region nearest the origin given Cloudflare's `request.cf.continent` and `.country`:
/// `Eu` for continent `EU` or an EU/EEA country, `Us` otherwise, `None` when both are unknown
/// (then `auto` destinations fall back to US, see `RegionChoice::resolve`).
pub fn nearest_region(continent: Option<&str>, country: Option<&str>) -> Option<Region> {
    let continent = continent.map(str::trim).filter(|c| !c.is_empty());
    // Cloudflare uses `XX` for unknown and `T1` for Tor: neither says where the caller is.
    let country = country.map(str::trim).filter(|c| {
        !c.is_empty() && !c.eq_ignore_ascii_case("XX") && !c.eq_ignore_ascii_case("T1")
    });
    if continent.is_none() && country.is_none() {
        return None;
    }
    let eu_continent = continent.is_some_and(|c| c.eq_ignore_ascii_case("EU"));
    let eu_country =
        country.is_some_and(|c| EU_EEA_COUNTRIES.iter().any(|e| e.eq_ignore_ascii_case(c)));
    Some(if eu_continent || eu_country {
        Region::Eu
    } else {
        Region::Us
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn europe_is_eu() {
        assert_eq!(nearest_region(Some("EU"), Some("GB")), Some(Region::Eu));
        assert_eq!(nearest_region(Some("EU"), None), Some(Region::Eu));
        assert_eq!(nearest_region(None, Some("de")), Some(Region::Eu));
        // French Guiana is in South America but in the EU.
        assert_eq!(nearest_region(Some("SA"), Some("FR")), Some(Region::Eu));
        assert_eq!(nearest_region(None, Some("NO")), Some(Region::Eu));
    }

    #[test]
    fn elsewhere_is_us() {
        assert_eq!(nearest_region(Some("NA"), Some("US")), Some(Region::Us));
        assert_eq!(nearest_region(Some("AS"), Some("JP")), Some(Region::Us));
        assert_eq!(nearest_region(None, Some("BR")), Some(Region::Us));
    }

    #[test]
    fn unknown_is_none() {
        assert_eq!(nearest_region(None, None), None);
        assert_eq!(nearest_region(Some(""), Some("XX")), None);
        assert_eq!(nearest_region(None, Some("T1")), None);
    }

    #[test]
    fn the_list_has_27_eu_and_3_eea_members() {
        let set: std::collections::BTreeSet<_> = EU_EEA_COUNTRIES.iter().collect();
        assert_eq!(set.len(), 30);
    }
}
