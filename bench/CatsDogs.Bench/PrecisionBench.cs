using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using CatsDogs.ML;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx.Quantization;
using CatsDogs.ML.RabbitMQ;
using Microsoft.ML.OnnxRuntime;

namespace CatsDogs.Bench;

/// <summary>
/// int8 against float32, side by side in one run (issue 23 item 3; docs/quantization.md, docs/speed.md).
/// <para>
/// First the graphs: each backbone is calibrated on photos drawn half cats, half dogs from the training folder and
/// quantized (QDQ); then, on other photos, the pooled features of the int8 graph are compared with the float32 ones
/// (cosine) for percentile and min–max calibration, with the first convolution, or the node that makes the feature
/// map, in int8 or float32; the operators ONNX Runtime runs after its optimizations (whether the QDQ groups became
/// QLinearConv); the file sizes; and the raw ONNX Runtime throughput of both graphs on the same pre-rendered tensors.
/// </para>
/// <para>
/// Then the library as users run it, with the default views (<see cref="ImageView.Defaults"/>): ResNet18 and the
/// four-backbone fusion end to end with no cache (int8 calibrated by <see cref="BackboneCalibration"/> on training
/// photos disjoint from the measured ones); the peak memory of training ResNet18 with no cache, calibration included,
/// in one child process per precision, and of loading each saved model and scoring the measured photos with no cache;
/// the web app's p50 / p95 for one client with each of those models; and
/// <c>catsdogs worker</c> processes pinned to one core each (<c>taskset</c>) on a RabbitMQ broker. A summary table
/// with each target, met or not, comes last.
/// </para>
/// Usage: dotnet run --project bench/CatsDogs.Bench -c Release -- --precision [--photos 100] [--repeat 3] [--broker amqp://…]
/// </summary>
internal static class PrecisionBench
{
    /// <summary>Photos measured when --photos is not given: the whole run then takes about ten minutes on 2 cores.</summary>
    public const int DefaultPhotos = 100;

    // Photos the end-to-end calibration and the trained models see; never measured.
    private const int TrainingPhotos = 300;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private static readonly BackboneSpec[] Specs = [KnownBackbones.ResNet18, KnownBackbones.MobileNetV2, KnownBackbones.MobileNetV2Tf2, KnownBackbones.MobileNetV1];

    public static int Run(string data, string models, int count, int repeat, string? brokerUri)
    {
        var started = Stopwatch.StartNew();
        var all = ImageDataset.FromFolder(data).Shuffle(seed: 23);
        Console.WriteLine($"int8 vs float32 — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, ONNX Runtime CPU; "
            + $"--photos {count}, median of {repeat} runs; default views {string.Join(",", ImageView.Defaults)} ({ImageView.Defaults.Count} backbone runs a photo).");
        var summary = new List<SummaryRow>();
        Graphs(all, models, count, repeat, summary);

        var training = all.Take(TrainingPhotos).ToArray();
        var measured = all.Skip(TrainingPhotos).Take(count).ToArray();
        Console.WriteLine();
        Console.WriteLine($"End to end: {measured.Length} photos measured, disjoint from the {training.Length} training photos (seed-23 shuffle of {data}).");
        EndToEnd(training, measured, models, repeat, summary);

        using var work = new TempFolder();
        var trained = TrainedModels(training, models, work.Path, summary);
        ScoringPeaks(trained, measured, models, work.Path, summary);
        WebApp(trained, measured, summary);
        Workers(trained, measured, brokerUri, summary);

        Console.WriteLine();
        Console.WriteLine($"Summary (whole run {started.Elapsed.TotalMinutes:F1} min):");
        Console.WriteLine();
        Console.WriteLine("| measure | fp32 | int8 | int8 / fp32 | target | |");
        Console.WriteLine("|---|---:|---:|---:|---|---|");
        foreach (var row in summary)
        {
            Console.WriteLine($"| {row.Measure} | {row.Fp32} | {row.Int8} | {row.Ratio} | {row.Target} | {row.Verdict} |");
        }

        return 0;
    }

    // Cosines, fused operators, file sizes and raw throughput of each backbone's QDQ graph against its float32 file.
    private static void Graphs(ImageDataset all, string models, int count, int repeat, List<SummaryRow> summary)
    {
        var calibration = all.Where(p => p.Label == PetLabel.Cat).Take(count / 2).Concat(all.Where(p => p.Label == PetLabel.Dog).Take(count - (count / 2))).ToArray();
        var used = calibration.Select(p => p.Path).ToHashSet(StringComparer.Ordinal);
        var check = all.Where(p => !used.Contains(p.Path)).Take(count).ToArray();
        Console.WriteLine($"Graphs: {calibration.Length} calibration photos (half cats, half dogs), {check.Length} other photos to check, the native view.");
        var speed = new List<string>();
        var graphs = new List<string>();
        var fusions = new List<string>();
        var unfused = new List<string>();
        var limits = new List<(BackboneSpec Spec, double Fp32, double Int8)>();
        Console.WriteLine();
        Console.WriteLine("| backbone | calibration | first conv | node making the feature map | cosine int8 vs fp32, min | median | calibration JSON |");
        Console.WriteLine("|---|---|---|---|---:|---:|---:|");
        foreach (var spec in Specs)
        {
            using var backbone = Backbone.Open(spec, models);
            var fp32 = File.ReadAllBytes(backbone.ModelPath);
            var samples = Program.Tensors(backbone, calibration).Zip(calibration, (t, p) => new CalibrationSample(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(p.Path))), t)).ToArray();
            var tensors = Program.Tensors(backbone, check);
            var reference = Features(fp32, spec, tensors);
            byte[]? chosen = null;
            var defaults = new QuantizationOptions { InputName = spec.InputName, FeatureMap = spec.FeatureMapName! };
            foreach (var options in new[]
            {
                defaults,
                defaults with { Method = CalibrationMethod.MinMax },
                defaults with { QuantizeFirstConvolution = true },
                defaults with { FloatOutputs = [spec.FeatureMapName!] },
            })
            {
                var record = StaticQuantizer.Calibrate(fp32, options, samples);
                var int8 = StaticQuantizer.Quantize(fp32, record);
                var cosines = Features(int8, spec, tensors).Zip(reference, (a, b) => Metrics.Cosine(a, b)).Order().ToArray();
                Console.WriteLine(string.Create(Invariant, $"| {spec.Name} | {options.Method}{(options == defaults ? " (default)" : "")} | {(options.QuantizeFirstConvolution ? "int8" : "fp32")} | {(options.FloatOutputs.Count == 0 ? "int8" : "fp32")} | {cosines[0]:F4} | {cosines[cosines.Length / 2]:F4} | {record.ToJson().Length / 1024.0:F1} KiB |"));
                chosen ??= int8;
            }

            // A QDQ convolution ORT did not fuse keeps its weights' DequantizeLinear: only the one before the float pooled output may stay.
            var counts = OptimizedGraph.OperatorCounts(chosen!);
            var fused = counts.Where(c => c.Key.EndsWith("QLinearConv", StringComparison.Ordinal)).Sum(c => c.Value);
            var dequantize = counts.GetValueOrDefault("DequantizeLinear");
            fusions.Add($"{spec.Name} {fused} QLinearConv, {dequantize} DequantizeLinear");
            if (fused == 0 || dequantize > 1)
            {
                unfused.Add(spec.Name);
            }

            graphs.Add(string.Create(Invariant, $"| {spec.Name} | {fp32.Length / 1048576.0:F1} MiB | {chosen!.Length / 1048576.0:F1} MiB ({100.0 * chosen.Length / fp32.Length:F0} %) | {string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}"))} |"));
            var best = (Fp32: 0.0, Int8: 0.0);
            foreach (var (threads, concurrent, setting) in new[] { (1, 1, "1 run at a time × 1 thread"), (2, 1, "1 run at a time × 2 threads"), (1, Environment.ProcessorCount, $"{Environment.ProcessorCount} concurrent runs × 1 thread") })
            {
                var rateFp32 = Throughput(fp32, spec, tensors, threads, concurrent, repeat);
                var rateInt8 = Throughput(chosen, spec, tensors, threads, concurrent, repeat);
                best = (Math.Max(best.Fp32, rateFp32), Math.Max(best.Int8, rateInt8));
                speed.Add(string.Create(Invariant, $"| {spec.Name} | {setting} | {rateFp32:F1}/s | {rateInt8:F1}/s | {rateInt8 / rateFp32:F2} × |"));
            }

            limits.Add((spec, best.Fp32, best.Int8));
        }

        Console.WriteLine();
        Console.WriteLine("Quantized graphs (the default options), and the operators ONNX Runtime runs after ORT_ENABLE_ALL:");
        Console.WriteLine();
        Console.WriteLine("| backbone | fp32 file | int8 QDQ file | optimized graph |");
        Console.WriteLine("|---|---:|---:|---|");
        graphs.ForEach(Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine($"Raw ONNX Runtime throughput on {check.Length} pre-rendered tensors (images/s, median of {repeat} passes):");
        Console.WriteLine();
        Console.WriteLine("| backbone | setting | fp32 | int8 | int8 / fp32 |");
        Console.WriteLine("|---|---|---:|---:|---:|");
        speed.ForEach(Console.WriteLine);

        summary.Add(new("ORT fused the QDQ groups (optimized graph: QLinearConv, DequantizeLinear left)", "", string.Join("; ", fusions), "", "every backbone fused", unfused.Count == 0, unfused.Count == 0 ? null : "not fused: " + string.Join(", ", unfused)));
        foreach (var (spec, fp32, int8) in limits)
        {
            summary.Add(new($"raw ORT limit {spec.Name} (pre-rendered tensors, best setting)", Rate(fp32), Rate(int8), Ratio(int8 / fp32), "reported", null));
        }

        double Harmonic(Func<(BackboneSpec Spec, double Fp32, double Int8), double> rate) => 1 / limits.Sum(l => 1 / rate(l));
        summary.Add(new("raw ORT limit, four backbones fused (harmonic)", Rate(Harmonic(l => l.Fp32)), Rate(Harmonic(l => l.Int8)), Ratio(Harmonic(l => l.Int8) / Harmonic(l => l.Fp32)), "reported", null));
    }

    // ResNet18 and the fusion end to end (Program.EndToEnd: the library's FeatureExtractor over a BackboneSet, no cache).
    private static void EndToEnd(IReadOnlyList<ImageEntry> training, IReadOnlyList<ImageEntry> measured, string models, int repeat, List<SummaryRow> summary)
    {
        // The int8 graph, and so its speed, is the same whatever the scales: the measured photos bound the calibration's cost.
        var options = new FeatureOptions { Backbones = Specs, ModelsDirectory = models, UseCache = false, CalibrationPhotos = Math.Min(FeatureOptions.DefaultCalibrationPhotos, Math.Max(2, measured.Count)) };
        var clock = Stopwatch.StartNew();
        var calibrations = BackboneCalibration.Calibrate(options, training, new CatsDogsOptions().Seed, default);

        var views = ImageView.Defaults;
        Console.WriteLine(string.Create(Invariant, $"int8 calibration of the four backbones (BackboneCalibration, {options.CalibrationPhotos} of the training photos × the views at each backbone's size; training calibrates on {FeatureOptions.DefaultCalibrationPhotos}): {clock.Elapsed.TotalSeconds:F1} s."));
        Console.WriteLine();
        Console.WriteLine("| library end to end, cold (decode → views → features) | fp32 | int8 | int8 / fp32 |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var (specs, name, target) in new[] { (new[] { KnownBackbones.ResNet18 }, "ResNet18", 2.0), (Specs, "four-backbone fusion", 1.7) })
        {
            var fp32 = Program.EndToEnd(specs, models, measured, repeat, views);
            var int8 = Program.EndToEnd(specs, models, measured, repeat, views, calibrations.Take(specs.Length).ToArray());
            Console.WriteLine(string.Create(Invariant, $"| {name} | {Rate(fp32)} | {Rate(int8)} | {Ratio(int8 / fp32)} |"));
            summary.Add(new($"{name} end to end, cold, default views, {measured.Count} photos (photos/s)", Rate(fp32), Rate(int8), Ratio(int8 / fp32), string.Create(Invariant, $"int8 ≥ {target:F1} × fp32"), int8 >= target * fp32));
        }
    }

    // One child process per precision trains ResNet18 (default views, no cache, calibration included) and saves it.
    private static Dictionary<Precision, string> TrainedModels(IReadOnlyList<ImageEntry> training, string models, string work, List<SummaryRow> summary)
    {
        var list = Path.Combine(work, "training.txt");
        File.WriteAllLines(list, training.Select(p => p.Path));
        var trained = new Dictionary<Precision, string>();
        var peaks = new Dictionary<Precision, long>();
        var walls = new Dictionary<Precision, double>();
        Console.WriteLine();
        Console.WriteLine($"Training ResNet18 on the {training.Count} training photos, default views, no cache, one child process each:");
        Console.WriteLine();
        foreach (var precision in new[] { Precision.Fp32, Precision.Int8 })
        {
            var model = Path.Combine(work, Precisions.Name(precision) + ".zip");
            var answer = Program.RunChild("--train-probe", list, "--models", models, "--probe-precision", Precisions.Name(precision), "--probe-out", model).Split(' ');
            peaks[precision] = long.Parse(answer[0], Invariant);
            walls[precision] = double.Parse(answer[1], Invariant);
            trained[precision] = model;
            Console.WriteLine($"- {Precisions.Name(precision)}: peak RSS {answer[0]} MiB{(answer.Length > 2 ? $" ({answer[2]} MiB when calibration ended)" : "")}, trained in {answer[1]} s");
        }

        summary.Add(new($"training ResNet18 on {training.Count} photos, default views, no cache, wall (int8: calibration on {FeatureOptions.DefaultCalibrationPhotos} included)", string.Create(Invariant, $"{walls[Precision.Fp32]:F1} s"), string.Create(Invariant, $"{walls[Precision.Int8]:F1} s"),
            Ratio(walls[Precision.Int8] / walls[Precision.Fp32]), "reported", null));

        summary.Add(new($"peak RSS (VmHWM) training ResNet18 on {training.Count} photos, default views, no cache, calibration included (child process)", $"{peaks[Precision.Fp32]} MiB", $"{peaks[Precision.Int8]} MiB",
            Ratio((double)peaks[Precision.Int8] / peaks[Precision.Fp32]), "int8 not higher than fp32", peaks[Precision.Int8] <= peaks[Precision.Fp32]));
        return trained;
    }

    /// <summary>
    /// Child mode (<c>--train-probe</c>): trains ResNet18 on the listed photos with no cache; prints the peak RSS in MiB,
    /// the seconds and (int8) the peak when calibration ended, then saves the model.
    /// </summary>
    public static int TrainProbe(string list, string models, string precision, string? output)
    {
        var photos = ImageDataset.FromFiles(File.ReadAllLines(list));
        var options = new CatsDogsOptions { UseCache = false, ModelsDirectory = models, Precision = Precisions.Parse(precision) ?? throw new ArgumentException($"--probe-precision '{precision}' is not one of {string.Join(", ", Precisions.Names)}.") };
        var clock = Stopwatch.StartNew();
        long? calibrated = null;
        using var classifier = new CatsDogsTrainer(options).Train(photos, new Reported(p => calibrated ??= p is { Stage: "calibrating int8", Completed: 1 } ? Program.PeakMiB() : null));
        var seconds = clock.Elapsed.TotalSeconds;
        var peak = Program.PeakMiB();
        if (output is not null)
        {
            classifier.Save(output);
        }

        Console.WriteLine(string.Create(Invariant, $"{peak} {seconds:F1} {calibrated}").TrimEnd());
        return 0;
    }

    // One child process per model loads it (int8: its graph rebuilt from the float32 file and the calibration) and
    // scores the measured photos with no cache.
    private static void ScoringPeaks(Dictionary<Precision, string> trained, IReadOnlyList<ImageEntry> measured, string models, string work, List<SummaryRow> summary)
    {
        var list = Path.Combine(work, "measured.txt");
        File.WriteAllLines(list, measured.Select(p => p.Path));
        var peaks = new Dictionary<Precision, long>();
        Console.WriteLine();
        Console.WriteLine($"Loading each saved model and scoring the {measured.Count} measured photos, no cache, one child process each:");
        Console.WriteLine();
        foreach (var (precision, model) in trained)
        {
            var answer = Program.RunChild("--score-probe", list, "--probe-model", model, "--models", models).Split(' ');
            peaks[precision] = long.Parse(answer[0], Invariant);
            Console.WriteLine($"- {Precisions.Name(precision)}: peak RSS {answer[0]} MiB, {answer[2]} scored in {answer[1]} s");
        }

        summary.Add(new($"peak RSS (VmHWM) loading the ResNet18 model and scoring {measured.Count} photos, no cache (child process)", $"{peaks[Precision.Fp32]} MiB", $"{peaks[Precision.Int8]} MiB",
            Ratio((double)peaks[Precision.Int8] / peaks[Precision.Fp32]), "int8 not higher than fp32", peaks[Precision.Int8] <= peaks[Precision.Fp32]));
    }

    /// <summary>
    /// Child mode (<c>--score-probe</c>): loads <paramref name="model"/> with no cache and scores the listed photos;
    /// prints the peak RSS in MiB, the seconds and how many were scored.
    /// </summary>
    public static int ScoreProbe(string list, string model, string models)
    {
        var clock = Stopwatch.StartNew();
        using var classifier = CatsDogsClassifier.Load(model, models, useCache: false);
        var scored = classifier.PredictMany(ImageDataset.FromFiles(File.ReadAllLines(list))).Scored.Count;
        Console.WriteLine(string.Create(Invariant, $"{Program.PeakMiB()} {clock.Elapsed.TotalSeconds:F1} {scored}"));
        return 0;
    }

    // The web app (its own process on 127.0.0.1), one client posting the measured photos to /api/predict, per model.
    private static void WebApp(Dictionary<Precision, string> trained, IReadOnlyList<ImageEntry> measured, List<SummaryRow> summary)
    {
        var photos = measured.Select(p => File.ReadAllBytes(p.Path)).ToArray();
        var latencies = new Dictionary<Precision, (double P50, double P95)>();
        Console.WriteLine();
        Console.WriteLine($"Web app, one client, POST /api/predict, {photos.Length} requests per model (after 8 to warm up):");
        Console.WriteLine();
        foreach (var (precision, model) in trained)
        {
            using var app = WebLoadBench.RunningApp.Start(model, TimeSpan.FromMinutes(2));
            var client = app.Client;
            WebLoadBench.Load(client, photos, 1, 8);
            var (rate, p50, p95, statuses) = WebLoadBench.Load(client, photos, 1, photos.Length);
            latencies[precision] = (p50, p95);
            Console.WriteLine(string.Create(Invariant, $"- {Precisions.Name(precision)}: {rate:F1} requests/s, p50 {Ms(p50)}, p95 {Ms(p95)}; answers {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Value} × {(int)s.Key}"))}"));
        }

        var (fp32, int8) = (latencies[Precision.Fp32], latencies[Precision.Int8]);
        summary.Add(new("web app, one client, ResNet18, default views, /api/predict p50 / p95", $"{Ms(fp32.P50)} / {Ms(fp32.P95)}", $"{Ms(int8.P50)} / {Ms(int8.P95)}", $"p95 {Ratio(int8.P95 / fp32.P95)}", "int8 p95 < 100 ms", int8.P95 < 0.100));
    }

    // catsdogs worker processes pinned with taskset: one on core 0, then two on cores 0 and 1, on the same photos.
    private static void Workers(Dictionary<Precision, string> trained, IReadOnlyList<ImageEntry> measured, string? brokerUri, List<SummaryRow> summary)
    {
        const string measure = "RabbitMQ workers pinned with taskset: 1 on core 0 → 2 on cores 0, 1 (photos/s)";
        const string target = "2 workers ≥ 1.8 × 1 (int8)";
        var why = brokerUri is null ? "no broker (give --broker amqp://… or set CATSDOGS_BROKER)"
            : !(Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "taskset"))) ? "taskset (util-linux) is not installed"
            : Environment.ProcessorCount < 2 ? $"{Environment.ProcessorCount} core: two workers need two"
            : null;
        if (why is not null)
        {
            summary.Add(new(measure, "", "", "", target, null, "not measured: " + why));
            return;
        }

        Console.WriteLine();
        Console.WriteLine($"catsdogs worker processes, each pinned to one core, {measured.Count} photos a job (scatter → gather):");
        Console.WriteLine();
        var rates = new Dictionary<Precision, (double One, double Two)>();
        try
        {
            var broker = new BrokerOptions(brokerUri!).Validate();
            foreach (var precision in new[] { Precision.Int8, Precision.Fp32 })
            {
                var one = BrokerBench.Workers(broker, trained[precision], measured, [0]);
                var two = BrokerBench.Workers(broker, trained[precision], measured, [0, 1]);
                rates[precision] = (one.PhotosPerSecond, two.PhotosPerSecond);
                Console.WriteLine(string.Create(Invariant, $"- {Precisions.Name(precision)}: 1 worker {one.PhotosPerSecond:F1} photos/s ({one.Summary}), 2 workers {two.PhotosPerSecond:F1} photos/s ({two.Summary}): {Ratio(two.PhotosPerSecond / one.PhotosPerSecond)}"));
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.WriteLine($"- stopped: {e.Message}");
            if (!rates.ContainsKey(Precision.Int8))
            {
                summary.Add(new(measure, "", "", "", target, null, $"not measured: {e.GetType().Name}: {e.Message.Split('\n')[0]}"));
                return;
            }
        }

        string Pair(Precision p) => rates.TryGetValue(p, out var r) ? string.Create(Invariant, $"{r.One:F1} → {r.Two:F1} ({Ratio(r.Two / r.One)})") : "not measured";
        var int8 = rates[Precision.Int8];
        summary.Add(new(measure, Pair(Precision.Fp32), Pair(Precision.Int8), rates.TryGetValue(Precision.Fp32, out var f) ? $"2 workers {Ratio(int8.Two / f.Two)}" : "", target, int8.Two >= 1.8 * int8.One));
    }

    private static float[][] Features(byte[] model, BackboneSpec spec, float[][] tensors)
    {
        using var session = Session(model, 1);
        return tensors.Select(t => RunOne(session, spec, t)).ToArray();
    }

    // Images/s over the tensors: `concurrent` runs at once, each session run with `threads` intra-op threads.
    private static double Throughput(byte[] model, BackboneSpec spec, float[][] tensors, int threads, int concurrent, int repeat)
    {
        using var session = Session(model, threads);
        RunOne(session, spec, tensors[0]); // warm-up
        return tensors.Length / Program.Median(repeat, () => Program.Time(() =>
            Parallel.For(0, tensors.Length, new ParallelOptions { MaxDegreeOfParallelism = concurrent }, i => RunOne(session, spec, tensors[i]))));
    }

    private static InferenceSession Session(byte[] model, int threads)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        return new InferenceSession(model, options);
    }

    private static float[] RunOne(InferenceSession session, BackboneSpec spec, float[] tensor)
    {
        var output = new float[spec.FeatureDimension];
        using var input = OrtValue.CreateTensorValueFromMemory(tensor, spec.Preprocessing.TensorShape());
        using var features = OrtValue.CreateTensorValueFromMemory(output, session.OutputMetadata[spec.PooledOutputName].Dimensions.Select(d => Math.Max(1L, d)).ToArray());
        session.Run(null, [spec.InputName], [input], [spec.PooledOutputName], [features]);
        return output;
    }

    private static string Rate(double perSecond) => string.Create(Invariant, $"{perSecond:F1}/s");

    private static string Ratio(double ratio) => string.Create(Invariant, $"{ratio:F2} ×");

    private static string Ms(double seconds) => string.Create(Invariant, $"{seconds * 1000:F0} ms");

    // Progress read on the reporting thread (Progress<T> would post it later, after the peak it should see).
    private sealed class Reported(Action<CatsDogsProgress> report) : IProgress<CatsDogsProgress>
    {
        public void Report(CatsDogsProgress value) => report(value);
    }

    // One row of the summary: Met null means the row has no target to meet (or was not measured: Note says why).
    private sealed record SummaryRow(string Measure, string Fp32, string Int8, string Ratio, string Target, bool? Met, string? Note = null)
    {
        public string Verdict => Note is not null && Met is null ? Note : (Met switch { true => "**met**", false => "**not met**", null => "" }) + (Note is null ? "" : "; " + Note);
    }
}
