//! The fit's estimates: features and IDF, clusters, completion lengths, per-cluster quality,
//! labelled examples and, optionally, predictors (steps 1 to 5 of the fit).

use super::*;

/// The fit's estimates: features, clusters, completion lengths, quality, examples and
/// predictors (everything but the estimate weight and the dial).
pub(super) fn fit_estimates(
    rows: &[Row],
    models: &[String],
    ids: &[String],
    catalog: &Catalog,
    options: &FitOptions,
) -> anyhow::Result<ProfileData> {
    let n = rows.len();

    // 1. Features, IDF.
    let raw: Vec<SparseVector> = rows
        .iter()
        .map(|row| analysis::raw_features(&Conversation::user(&row.prompt), options.bits))
        .collect();
    let n_slots = 1usize << options.bits;
    let mut df = vec![0u32; n_slots];
    for vector in &raw {
        for &(slot, _) in vector.entries() {
            df[slot as usize] += 1;
        }
    }
    let idf_of = |df: u32| ((1.0 + n as f32) / (1.0 + df as f32)).ln() + 1.0;
    let default_idf = idf_of(1);
    let idf_slots: Vec<(u32, f32)> = df
        .iter()
        .enumerate()
        .filter(|it| *it.1 >= 2)
        .map(|(slot, df)| (slot as u32, idf_of(*df)))
        .collect();
    let mut dense_idf = vec![default_idf; n_slots];
    for &(slot, weight) in &idf_slots {
        dense_idf[slot as usize] = weight;
    }
    let vectors: Vec<SparseVector> = raw
        .into_iter()
        .map(|mut vector| {
            vector.reweight(|slot| dense_idf[slot as usize]);
            vector.normalize();
            vector
        })
        .collect();

    // 2. Clusters.
    let k = match options.clusters {
        0 => ((n as f64 / 4.0).sqrt().round() as usize).clamp(2, 48),
        k => k,
    }
    .min(n);
    let (assignment, centroids) = kmeans(&vectors, k, options.bits, 20);

    // 3. Expected completion length per cluster: what the rows cost beyond their prompt, in
    //    units of the synthetic completion price.
    let prices: Vec<(f64, f64)> = ids
        .iter()
        .map(|id| {
            let pricing = catalog
                .find(id)
                .map(|idx| catalog.model(idx).endpoints[0].pricing)
                .unwrap_or_default();
            (pricing.prompt, pricing.completion)
        })
        .collect();
    let mut extra_cost = vec![0.0f64; k];
    let mut completion_price = vec![0.0f64; k];
    for (idx, row) in rows.iter().enumerate() {
        let tokens = f64::from(prompt_tokens(&row.prompt));
        for (m, name) in models.iter().enumerate() {
            let (prompt_price, output_price) = prices[m];
            extra_cost[assignment[idx]] += (row.cost[name] - tokens * prompt_price).max(0.0);
            completion_price[assignment[idx]] += output_price;
        }
    }
    let completion_tokens: Vec<u32> = (0..k)
        .map(|c| {
            if completion_price[c] > 0.0 {
                (extra_cost[c] / completion_price[c])
                    .clamp(8.0, 16_384.0)
                    .round() as u32
            } else {
                COMPLETION_TOKENS
            }
        })
        .collect();
    let mut sorted_tokens: Vec<u32> = rows.iter().map(|row| prompt_tokens(&row.prompt)).collect();
    sorted_tokens.sort_unstable();
    let reference_prompt_tokens = sorted_tokens[sorted_tokens.len() / 2].max(1);

    // 4. Quality per model, cluster and difficulty bucket.
    let rules: Vec<(usize, f32)> = rows
        .iter()
        .map(|row| {
            let (prior, difficulty) = analysis::rule_view(&Conversation::user(&row.prompt));
            let task = (0..prior.len())
                .max_by(|a, b| prior[*a].total_cmp(&prior[*b]).then(b.cmp(a)))
                .unwrap_or(0);
            (task, difficulty)
        })
        .collect();
    let n_buckets = 3usize;
    let bucket_of = |difficulty: f32| ((difficulty * n_buckets as f32) as usize).min(n_buckets - 1);
    let n_models = models.len();
    let global: Vec<f64> = models
        .iter()
        .map(|m| rows.iter().map(|row| row.quality[m]).sum::<f64>() / n as f64)
        .collect();
    let mut cluster_sum = vec![vec![0.0f64; n_models]; k];
    let mut cluster_n = vec![0.0f64; k];
    let mut bucket_sum = vec![vec![vec![0.0f64; n_models]; n_buckets]; k];
    let mut bucket_n = vec![vec![0.0f64; n_buckets]; k];
    let mut task_votes = vec![[0u32; 9]; k];
    for (idx, row) in rows.iter().enumerate() {
        let cluster = assignment[idx];
        let bucket = bucket_of(rules[idx].1);
        cluster_n[cluster] += 1.0;
        bucket_n[cluster][bucket] += 1.0;
        task_votes[cluster][rules[idx].0] += 1;
        for (m, name) in models.iter().enumerate() {
            cluster_sum[cluster][m] += row.quality[name];
            bucket_sum[cluster][bucket][m] += row.quality[name];
        }
    }
    let mut tasks = Vec::with_capacity(k);
    let mut model_quality: Vec<BTreeMap<String, Vec<f64>>> = vec![BTreeMap::new(); n_models];
    for cluster in 0..k {
        let id = format!("cluster-{cluster:02}");
        let votes = task_votes[cluster];
        let label = (0..9)
            .max_by(|a, b| votes[*a].cmp(&votes[*b]).then(b.cmp(a)))
            .map(|it| TaskType::ALL[it]);
        tasks.push(TaskData {
            id: id.clone(),
            task: label,
            completion_tokens: completion_tokens[cluster],
            count: cluster_n[cluster] as u32,
            centroid: centroids[cluster].entries().to_vec(),
            exemplars: Vec::new(),
        });
        for m in 0..n_models {
            let cluster_mean = (cluster_sum[cluster][m] + options.cluster_prior * global[m])
                / (cluster_n[cluster] + options.cluster_prior);
            let buckets = (0..n_buckets)
                .map(|b| {
                    let value = (bucket_sum[cluster][b][m] + options.bucket_prior * cluster_mean)
                        / (bucket_n[cluster][b] + options.bucket_prior);
                    round4(value.clamp(0.0, 1.0))
                })
                .collect();
            model_quality[m].insert(id.clone(), buckets);
        }
    }
    let models_data: BTreeMap<String, ModelData> = ids
        .iter()
        .zip(model_quality)
        .enumerate()
        .map(|(m_idx, (id, quality))| {
            (
                id.clone(),
                ModelData {
                    quality,
                    sources: BTreeMap::from([(
                        "*".to_owned(),
                        format!("fitted by `cargo xtask calibrate` on {n} labelled rows"),
                    )]),
                    notes: String::new(),
                    mean: Some(round4(global[m_idx])),
                },
            )
        })
        .collect();

    // 5. Labelled examples.
    let examples = (options.neighbours > 0).then(|| ExamplesData {
        models: ids.to_vec(),
        rows: rows
            .iter()
            .zip(&vectors)
            .map(|(row, vector)| {
                let mut vector = vector.clone();
                vector.prune(options.example_slots);
                vector.normalize();
                ExampleRow {
                    vector: vector
                        .entries()
                        .iter()
                        .map(|&(s, w)| (s, round6(w)))
                        .collect(),
                    quality: models.iter().map(|m| Some(row.quality[m] as f32)).collect(),
                }
            })
            .collect(),
    });

    let mut data = ProfileData {
        format: FORMAT.to_owned(),
        version: VERSION,
        name: "calibrated".to_owned(),
        notes: vec![format!(
            "Fitted by `cargo xtask calibrate` on {n} rows and {n_models} models: {k} k-means \
             clusters over IDF-weighted hashed n-grams, quality per cluster and difficulty \
             bucket shrunk toward each model's mean, {} nearest labelled examples.",
            options.neighbours
        )],
        features: FeatureData { bits: options.bits },
        classifier: ClassifierData {
            temperature: 0.05,
            rule_weight: 0.0,
            neighbours: options.neighbours,
            neighbour_prior: options.neighbour_prior,
            idf: Some(IdfData {
                default: round6(default_idf),
                slots: idf_slots.into_iter().map(|(s, w)| (s, round6(w))).collect(),
            }),
        },
        selection: SelectionData {
            lambda_scale: 1.0,
            cost_scale: options.cost_scale,
            unknown_model_quality: 0.0,
            reference_prompt_tokens,
            dial_lambdas: None,
            estimate_weight: None,
            embedding_weight: None,
        },
        difficulty_buckets: n_buckets,
        tasks,
        models: models_data,
        examples,
        predictors: None,
        embedding: None,
    };

    // 6. Per-model ridge regressions on the prompts' embeddings (their weight is chosen later,
    //    on held-out estimates).
    if options.embedding_l2 > 0.0 {
        data.embedding = Some(embedding::fit_embedding_models(
            rows,
            models,
            ids,
            options.embedding_l2,
        )?);
    }

    // 6. Per-model logistic regressions, the cluster estimate as their offset.
    if options.predictors {
        data.predictors = Some(fit_predictors(&data, rows, models, ids, options)?);
    }

    Ok(data)
}
