public import KaroKarPostgres

extension FleetMigrations {
    // Issue 22, the rare-make questions: the gaps index leads with the id bucket, so a make's free
    // intervals are spread over every bucket among the other makes', and a question whose make has
    // few answers ("60 days, Skoda": tens to a few hundred of 100,000 vehicles) scanned the whole
    // index (1,500 to 4,500 buffers) while the walk probed every listing of the make (11,000
    // listings, 33,000 buffers). A second GiST index leads with the make and the model
    // (case-folded, as the filters compare them) and then the interval alone: a make and model are
    // single values, so GiST splits their pages by the ranges, and the intervals of a make (or a
    // make and model) that can hold a window are found in 40 to 600 buffers. Search's third plan,
    // *make* (SearchStore), reads it. (A first try led with make and bucket: the bucket again
    // scattered the ranges, and the question got slower. Make alone: a make and model scanned all
    // the make's intervals, about three times the buffers.)
    static let freeMake = Migration(context: "fleet", version: 6, name: "free_interval_make_index", sql: """
            CREATE INDEX vehicle_free_make ON fleet.vehicle_free USING gist (make_key, model_key, free)
                INCLUDE (vehicle_id, organization_id, vendor_owned, year);
            ANALYZE fleet.vehicle_free;
            """)
}
