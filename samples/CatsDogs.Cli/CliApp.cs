using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CatsDogs.ML;
using CatsDogs.ML.Audit;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using CatsDogs.ML.Explain;
using Spectre.Console;

namespace CatsDogs.Cli;

/// <summary>The <c>catsdogs</c> command line: train, evaluate, predict, submit, fusion-report, audit, explain, backbones.</summary>
public static class CliApp
{
    /// <summary>Exit code of a run that failed on its inputs (bad folder, model, photos).</summary>
    public const int Failure = 1;

    /// <summary>Exit code of a run cancelled with Ctrl+C.</summary>
    public const int Cancelled = 130;

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = false };

    /// <summary>Parses and runs <paramref name="args"/>, writing results to <paramref name="output"/> and messages to <paramref name="error"/>.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = BuildCommand(output, error);
        return root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
    }

    private static RootCommand BuildCommand(TextWriter output, TextWriter error)
    {
        var root = new RootCommand("catsdogs — tell cats from dogs with pretrained ImageNet backbones (ONNX) and an ML.NET logistic head.");
        root.Add(TrainCommand(output, error));
        root.Add(EvaluateCommand(output, error));
        root.Add(PredictCommand(output, error));
        root.Add(SubmitCommand(output, error));
        root.Add(FusionReportCommand(output, error));
        root.Add(AuditCommand(output, error));
        root.Add(ExplainCommand(output, error));
        root.Add(BackbonesCommand(output, error));
        return root;
    }

    private static Option<string?> ModelsDirOption() => new("--models-dir")
    {
        Description = $"Extra folder searched first for backbone ONNX files (also ${"CATSDOGS_MODELS_DIR"}).",
    };

    private static Argument<string> ModelArgument() => new("model") { Description = "A model saved by 'train'." };

    private static Option<string?> CacheOption() => new("--cache")
    {
        Description = "Feature cache folder (default: $CATSDOGS_CACHE_DIR or ~/.cache/catsdogs/features).",
    };

    private static Option<bool> NoCacheOption() => new("--no-cache") { Description = "Neither read nor write the feature cache." };

    private static Option<string> DeviceOption() => new("--device")
    {
        Description = "Where the backbones run: cpu, cuda or cuda:N (needs Microsoft.ML.OnnxRuntime.Gpu; falls back to CPU with a notice).",
        DefaultValueFactory = _ => "cpu",
    };

    private static Option<string?> CatalogOption() => new("--catalog")
    {
        Description = "A JSON file of your own backbone specs (the format of models/backbones.json), added to the built-in catalogue.",
    };

    // The four backbones whose real weights are available (the default of fusion-report and audit).
    private const string RealBackbones = "resnet18,mobilenet_v2,mobilenet_v2_tf2,mobilenet_v1";

    // The options every training-like command shares, turned into CatsDogsOptions.
    private sealed class TrainingOptions(string defaultBackbones)
    {
        private readonly Option<string> _backbones = new("--backbones") { Description = "Comma-separated backbone names (see 'catsdogs backbones').", DefaultValueFactory = _ => defaultBackbones };
        private readonly Option<string?> _catalog = CatalogOption();
        private readonly Option<int> _seed = new("--seed") { Description = "Seed of every random choice (splits, folds).", DefaultValueFactory = _ => 42 };
        private readonly Option<int> _folds = new("--folds") { Description = "Cross-validation folds that choose the regularisation.", DefaultValueFactory = _ => 5 };
        private readonly Option<bool> _noMirror = new("--no-mirror") { Description = "Do not average features with the mirror image (half the backbone work)." };
        private readonly Option<string?> _modelsDir = ModelsDirOption();
        private readonly Option<string?> _cache = CacheOption();
        private readonly Option<bool> _noCache = NoCacheOption();
        private readonly Option<string> _device = DeviceOption();

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { _backbones, _catalog, _seed, _folds, _noMirror, _modelsDir, _cache, _noCache, _device })
            {
                command.Add(option);
            }
        }

        public BackboneCatalog Catalog(ParseResult parse) =>
            parse.GetValue(_catalog) is { } file ? BackboneCatalog.Default.WithFile(file) : BackboneCatalog.Default;

        public CatsDogsOptions Build(ParseResult parse) => new()
        {
            Backbones = Catalog(parse).Resolve(parse.GetRequiredValue(_backbones)),
            Seed = parse.GetValue(_seed),
            Folds = parse.GetValue(_folds),
            AverageWithMirror = !parse.GetValue(_noMirror),
            ModelsDirectory = parse.GetValue(_modelsDir),
            CacheDirectory = parse.GetValue(_cache),
            UseCache = !parse.GetValue(_noCache),
            Device = parse.GetRequiredValue(_device),
        };
    }

    private static Command TrainCommand(TextWriter output, TextWriter error)
    {
        var data = new Argument<string>("data-dir") { Description = "Labelled photos: Kaggle names (cat.N.jpg, dog.N.jpg) or cat/ and dog/ folders." };
        var outPath = new Option<string>("--out", "-o") { Description = "Where to save the trained model (zip).", Required = true };
        var training = new TrainingOptions("resnet18");
        var command = new Command("train", "Train a classifier on a folder of labelled photos and save it.") { data, outPath };
        training.AddTo(command);
        command.SetAction((parse, token) => Guard(error, () =>
        {
            var dataset = ImageDataset.FromFolder(parse.GetRequiredValue(data));
            var options = training.Build(parse);
            error.WriteLine($"Training on {dataset.Count} photos ({dataset.CountOf(PetLabel.Cat)} cats, {dataset.CountOf(PetLabel.Dog)} dogs) with {string.Join(" + ", options.Backbones.Select(b => b.Name))}.");
            using var classifier = WithProgress(error, progress => new CatsDogsTrainer(options).Train(dataset, progress, token));
            ReportProviders(error, classifier);
            var summary = classifier.Training!;
            var model = parse.GetRequiredValue(outPath);
            classifier.Save(model);
            ReportSkipped(error, summary.Skipped);
            var console = Console(output);
            var table = new Table().Title($"L2 search, {summary.Folds}-fold CV").AddColumns("L2", "log loss", "accuracy");
            foreach (var trial in summary.Trials)
            {
                var mark = trial == summary.Best ? " ←" : "";
                table.AddRow(F(trial.L2, "G4") + mark, F(trial.ValidationLogLoss, "F4"), F(trial.ValidationAccuracy, "P2"));
            }

            console.Write(table);
            foreach (var excluded in summary.Excluded)
            {
                error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"left out as likely mislabelled: {excluded.Image.Path} (P(its label) = {excluded.LabelProbability:F3} out of fold)"));
            }

            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Trained on {summary.TrainedOn - summary.Excluded.Count} of {summary.TrainedOn} usable photos ({summary.Cats} cats, {summary.Dogs} dogs; {summary.Excluded.Count} left out as likely mislabelled), skipped {summary.Skipped.Count}; "
                + $"features {summary.FeatureTime.TotalSeconds:F1} s, head {summary.HeadTime.TotalSeconds:F1} s. Saved {Path.GetFullPath(model)}"));
            return 0;
        }));
        return command;
    }

    private static Command FusionReportCommand(TextWriter output, TextWriter error)
    {
        var data = new Argument<string>("data-dir") { Description = "Labelled photos, split into training and held-out photos." };
        var validation = new Option<double>("--validation") { Description = "Share of each class held out for scoring.", DefaultValueFactory = _ => 0.2 };
        var outPath = new Option<string?>("--out", "-o") { Description = "Also write the table as Markdown to this file." };
        var training = new TrainingOptions(RealBackbones);
        var command = new Command("fusion-report", "Train every single backbone and every combination on one split; print log loss and accuracy, best first.") { data, validation, outPath };
        training.AddTo(command);
        command.SetAction((parse, token) => Guard(error, () =>
        {
            var dataset = ImageDataset.FromFolder(parse.GetRequiredValue(data));
            var options = training.Build(parse);
            var report = WithProgress(error, progress => FusionReport.Evaluate(dataset, options, parse.GetValue(validation), progress, token));
            ReportSkipped(error, report.Skipped);
            var console = Console(output);
            var table = new Table()
                .Title($"Backbone fusion: trained on {report.TrainCount}, scored on {report.TestCount} held-out photos (seed {options.Seed})")
                .AddColumns("backbones", "features", "log loss", "accuracy", "AUC", "L2", "left out");
            foreach (var row in report.Rows)
            {
                table.AddRow(Markup.Escape(row.Name), row.FeatureDimension.ToString(CultureInfo.InvariantCulture), F(row.LogLoss, "F4"), F(row.Accuracy, "P2"), F(row.Auc, "F4"), F(row.L2, "G4"), row.Excluded.ToString(CultureInfo.InvariantCulture));
            }

            console.Write(table);
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Features {report.FeatureTime.TotalSeconds:F1} s, heads {report.HeadTime.TotalSeconds:F1} s."));
            if (parse.GetValue(outPath) is { } file)
            {
                File.WriteAllText(file, report.ToMarkdown());
            }

            return 0;
        }));
        return command;
    }

    private static Command AuditCommand(TextWriter output, TextWriter error)
    {
        var data = new Argument<string>("data-dir") { Description = "Labelled photos to audit." };
        var outPath = new Option<string>("--out", "-o") { Description = "Folder for report.html (with thumbnails) and findings.csv.", Required = true };
        var classifier = new Option<string>("--imagenet") { Description = "Backbone whose ImageNet head names what a photo shows.", DefaultValueFactory = _ => "mobilenet_v2" };
        var topK = new Option<int>("--top-k") { Description = "Flag a photo when none of its top-k ImageNet classes is a cat or a dog.", DefaultValueFactory = _ => 5 };
        var confident = new Option<double>("--confident") { Description = "Flag a label when the out-of-fold model gives the other class at least this.", DefaultValueFactory = _ => 0.9 };
        var training = new TrainingOptions(RealBackbones);
        var command = new Command("audit", "List labelled photos that show no cat or dog, or whose label a confident model contradicts.") { data, outPath, classifier, topK, confident };
        training.AddTo(command);
        command.SetAction((parse, token) => Guard(error, () =>
        {
            var dataset = ImageDataset.FromFolder(parse.GetRequiredValue(data));
            var model = training.Build(parse);
            var options = new AuditOptions
            {
                ImageNetClassifier = training.Catalog(parse).Get(parse.GetRequiredValue(classifier)),
                TopK = parse.GetValue(topK),
                ConfidentAt = parse.GetValue(confident),
                Model = model,
            };
            var report = WithProgress(error, progress => DatasetAudit.Run(dataset, options, progress, token));
            ReportSkipped(error, report.Skipped);
            var html = report.WriteTo(parse.GetRequiredValue(outPath));
            var console = Console(output);
            var table = new Table().Title($"Flagged {report.Findings.Count} of {report.Audited} photos").AddColumns("photo", "label", "P(dog)", "why");
            foreach (var f in report.Findings)
            {
                table.AddRow(Markup.Escape(f.Image.Path), f.Image.Label.ToString()!.ToLowerInvariant(), F(f.DogProbability, "F3"), Markup.Escape(f.Reason));
            }

            console.Write(table);
            console.WriteLine($"Report: {html}; list: {Path.Combine(Path.GetDirectoryName(html)!, "findings.csv")}");
            return 0;
        }));
        return command;
    }

    private static Command ExplainCommand(TextWriter output, TextWriter error)
    {
        var model = ModelArgument();
        var target = new Argument<string>("file-or-dir") { Description = "A photo, or a folder explained recursively." };
        var outPath = new Option<string>("--out", "-o") { Description = "Folder for the overlay PNGs and the contact sheet.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per photo (path, dogProbability, label, peak, overlay) on stdout." };
        var sheet = new Option<int>("--sheet") { Description = "Photos on the contact sheet (0 for none).", DefaultValueFactory = _ => 16 };
        var modelsDir = ModelsDirOption();
        var device = DeviceOption();
        var command = new Command("explain", "Draw class activation maps: where in each photo the model saw a cat or a dog.") { model, target, outPath, json, sheet, modelsDir, device };
        command.SetAction((parse, token) => Guard(error, () =>
        {
            using var classifier = CatsDogsClassifier.Load(parse.GetRequiredValue(model), parse.GetValue(modelsDir), useCache: false, device: parse.GetRequiredValue(device));
            ReportProviders(error, classifier);
            var path = parse.GetRequiredValue(target);
            var images = PhotosAt(path);
            var dir = parse.GetRequiredValue(outPath);
            Directory.CreateDirectory(dir);
            var batch = WithProgress(error, progress => classifier.ExplainMany(images, progress, token));
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var e in batch.Explained)
            {
                // Photos from different sub-folders may share a name: number the repeats.
                var stem = Path.GetFileNameWithoutExtension(e.Image.Path);
                var name = stem + ".cam.png";
                for (var n = 2; !names.Add(name); n++)
                {
                    name = $"{stem}.{n}.cam.png";
                }

                var file = Path.Combine(dir, name);
                e.SaveOverlayPng(file);
                if (parse.GetValue(json))
                {
                    output.WriteLine(JsonSerializer.Serialize(new
                    {
                        path = e.Image.Path,
                        dogProbability = e.DogProbability,
                        label = e.PredictedLabel.ToString().ToLowerInvariant(),
                        peak = new { x = e.Peak.X, y = e.Peak.Y },
                        width = e.Width,
                        height = e.Height,
                        overlay = Path.GetFullPath(file),
                        backbones = e.Heatmaps.Select(h => new { name = h.Backbone, contribution = h.Contribution }),
                    }, Json));
                }
            }

            if (parse.GetValue(sheet) > 0 && batch.Explained.Count > 0)
            {
                ContactSheet.SavePng(batch.Explained.Take(parse.GetValue(sheet)).ToArray(), Path.Combine(dir, "contact-sheet.png"));
            }

            ReportSkipped(error, batch.Skipped);
            error.WriteLine($"Explained {batch.Explained.Count}, skipped {batch.Skipped.Count}, listed {images.Count}; overlays in {Path.GetFullPath(dir)}.");
            return 0;
        }));
        return command;
    }

    private static Command BackbonesCommand(TextWriter output, TextWriter error)
    {
        var modelsDir = ModelsDirOption();
        var catalogFile = CatalogOption();
        var command = new Command("backbones", "List the backbone catalogue and whether each file is found.") { modelsDir, catalogFile };
        command.SetAction((parse, token) => Guard(error, () =>
        {
            var catalog = parse.GetValue(catalogFile) is { } file ? BackboneCatalog.Default.WithFile(file) : BackboneCatalog.Default;
            var table = new Table().AddColumns("name", "input", "preprocessing", "features", "file");
            foreach (var spec in catalog.All)
            {
                string where;
                try
                {
                    where = BackboneCatalog.LocateFile(spec, parse.GetValue(modelsDir));
                }
                catch (BackboneFileNotFoundException)
                {
                    where = "missing: " + spec.FileName;
                }

                table.AddRow(
                    spec.Name,
                    $"{spec.Layout} {spec.InputWidth}×{spec.InputHeight} {spec.ChannelOrder}",
                    $"{spec.Normalization.Kind}, {spec.Resize}",
                    spec.FeatureDimension.ToString(CultureInfo.InvariantCulture),
                    Markup.Escape(where));
            }

            Console(output).Write(table);
            return 0;
        }));
        return command;
    }

    private static Command EvaluateCommand(TextWriter output, TextWriter error)
    {
        var model = ModelArgument();
        var data = new Argument<string>("data-dir") { Description = "Labelled photos to score." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (logLoss, accuracy, auc, count, skipped, …) on stdout." };
        var modelsDir = ModelsDirOption();
        var cache = CacheOption();
        var noCache = NoCacheOption();
        var device = DeviceOption();
        var command = new Command("evaluate", "Score labelled photos: log loss (Kaggle), accuracy, AUC, confusion matrix, worst photos.") { model, data, json, modelsDir, cache, noCache, device };
        command.SetAction((parse, token) => Guard(error, () =>
        {
            using var classifier = Load(parse, model, modelsDir, cache, noCache, device, error);
            var dataset = ImageDataset.FromFolder(parse.GetRequiredValue(data));
            var report = WithProgress(error, progress => classifier.Evaluate(dataset, progress, token));
            ReportSkipped(error, report.Skipped);
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(new
                {
                    logLoss = report.LogLoss,
                    accuracy = report.Accuracy,
                    auc = double.IsNaN(report.Auc) ? (double?)null : report.Auc, // NaN (one class only) is not JSON
                    count = report.Count,
                    skipped = report.Skipped.Count,
                    listed = dataset.Count,
                    confusion = report.Confusion,
                    skippedFiles = report.Skipped.Select(s => new { path = s.Image.Path, reason = s.Reason }),
                    worst = report.Worst.Select(w => new { path = w.Image.Path, label = w.Image.Label.ToString()!.ToLowerInvariant(), dogProbability = w.DogProbability, logLoss = w.LogLoss }),
                }, Json));
                return 0;
            }

            var console = Console(output);
            var metrics = new Table().Title("Evaluation").AddColumns("metric", "value");
            metrics.AddRow("log loss", F(report.LogLoss, "F4"));
            metrics.AddRow("accuracy", F(report.Accuracy, "P2"));
            metrics.AddRow("AUC", F(report.Auc, "F4"));
            metrics.AddRow("scored / skipped / listed", $"{report.Count} / {report.Skipped.Count} / {dataset.Count}");
            metrics.AddRow("dogs: right / called cat", $"{report.Confusion.TruePositives} / {report.Confusion.FalseNegatives}");
            metrics.AddRow("cats: right / called dog", $"{report.Confusion.TrueNegatives} / {report.Confusion.FalsePositives}");
            console.Write(metrics);
            var worst = new Table().Title("Worst-scored photos").AddColumns("photo", "label", "P(dog)", "log loss");
            foreach (var w in report.Worst)
            {
                worst.AddRow(Markup.Escape(w.Image.Path), w.Image.Label.ToString()!.ToLowerInvariant(), F(w.DogProbability, "F4"), F(w.LogLoss, "F3"));
            }

            console.Write(worst);
            return 0;
        }));
        return command;
    }

    private static Command PredictCommand(TextWriter output, TextWriter error)
    {
        var model = ModelArgument();
        var target = new Argument<string>("file-or-dir") { Description = "A photo, or a folder scored recursively." };
        var outPath = new Option<string?>("--out", "-o") { Description = "Write the CSV (path,dog_probability,label) here instead of stdout." };
        var modelsDir = ModelsDirOption();
        var cache = CacheOption();
        var noCache = NoCacheOption();
        var device = DeviceOption();
        var command = new Command("predict", "Print P(dog) for a photo or every photo in a folder, as CSV.") { model, target, outPath, modelsDir, cache, noCache, device };
        command.SetAction((parse, token) => Guard(error, () =>
        {
            using var classifier = Load(parse, model, modelsDir, cache, noCache, device, error);
            var path = parse.GetRequiredValue(target);
            var images = PhotosAt(path);
            var result = WithProgress(error, progress => classifier.PredictMany(images, progress, token));
            var csv = new System.Text.StringBuilder("path,dog_probability,label\n");
            foreach (var p in result.Scored)
            {
                csv.Append(CultureInfo.InvariantCulture, $"{CsvField(p.Image.Path)},{p.DogProbability:0.######},{p.PredictedLabel.ToString().ToLowerInvariant()}\n");
            }

            if (parse.GetValue(outPath) is { } file)
            {
                File.WriteAllText(file, csv.ToString());
            }
            else
            {
                output.Write(csv.ToString());
            }

            ReportSkipped(error, result.Skipped);
            error.WriteLine($"Scored {result.Scored.Count}, skipped {result.Skipped.Count}, listed {images.Count}.");
            return 0;
        }));
        return command;
    }

    private static Command SubmitCommand(TextWriter output, TextWriter error)
    {
        var model = ModelArgument();
        var testDir = new Argument<string>("test-dir") { Description = "Kaggle test photos named N.jpg." };
        var outPath = new Option<string>("--out", "-o") { Description = "The submission CSV to write (id,label).", Required = true };
        var clip = new Option<string>("--clip") { Description = "Clip P(dog) to min,max.", DefaultValueFactory = _ => "0.005,0.995" };
        var allowMissing = new Option<bool>("--allow-missing") { Description = "Write even when some photos could not be scored." };
        var modelsDir = ModelsDirOption();
        var cache = CacheOption();
        var noCache = NoCacheOption();
        var device = DeviceOption();
        var command = new Command("submit", "Write a Kaggle submission (id,label = P(dog)) for a folder of test photos.") { model, testDir, outPath, clip, allowMissing, modelsDir, cache, noCache, device };
        command.SetAction((parse, token) => Guard(error, () =>
        {
            var bounds = parse.GetRequiredValue(clip).Split(',');
            if (bounds.Length != 2 || !double.TryParse(bounds[0], CultureInfo.InvariantCulture, out var min) || !double.TryParse(bounds[1], CultureInfo.InvariantCulture, out var max))
            {
                throw new ArgumentException($"--clip expects 'min,max' such as 0.005,0.995; got '{parse.GetValue(clip)}'.");
            }

            using var classifier = Load(parse, model, modelsDir, cache, noCache, device, error);
            var images = ImageDataset.FromFolder(parse.GetRequiredValue(testDir));
            var result = WithProgress(error, progress => classifier.PredictMany(images, progress, token));
            ReportSkipped(error, result.Skipped);
            var file = parse.GetRequiredValue(outPath);
            KaggleSubmission.Write(file, result, new SubmissionOptions { ClipMin = min, ClipMax = max, AllowMissing = parse.GetValue(allowMissing) });
            output.WriteLine($"Wrote {result.Scored.Count} rows to {Path.GetFullPath(file)} (skipped {result.Skipped.Count}, listed {images.Count}).");
            return 0;
        }));
        return command;
    }

    // A single photo, or every photo under a folder.
    private static ImageDataset PhotosAt(string path) => File.Exists(path) ? ImageDataset.FromFiles([path]) : ImageDataset.FromFolder(path);

    private static CatsDogsClassifier Load(ParseResult parse, Argument<string> model, Option<string?> modelsDir, Option<string?> cache, Option<bool> noCache, Option<string> device, TextWriter error)
    {
        var classifier = CatsDogsClassifier.Load(parse.GetRequiredValue(model), parse.GetValue(modelsDir), parse.GetValue(cache), !parse.GetValue(noCache), parse.GetRequiredValue(device));
        ReportProviders(error, classifier);
        return classifier;
    }

    // One line naming where the backbones run, plus the reason when a requested GPU is not used.
    private static void ReportProviders(TextWriter error, CatsDogsClassifier classifier)
    {
        var providers = classifier.ExecutionProviders;
        error.WriteLine($"ONNX Runtime: {string.Join(", ", providers.Select(p => $"{p.Backbone} on {p.Provider}"))}.");
        foreach (var notice in providers.Select(p => p.Notice).OfType<string>().Distinct())
        {
            error.WriteLine($"notice: {notice}");
        }
    }

    private static Task<int> Guard(TextWriter error, Func<int> body)
    {
        try
        {
            return Task.FromResult(body());
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("Cancelled.");
            return Task.FromResult(Cancelled);
        }
        catch (Exception e) when (e is CatsDogsException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"error: {e.Message}");
            return Task.FromResult(Failure);
        }
    }

    // Live progress bars on a terminal; a line every 10% when stderr is redirected (logs, CI).
    private static T WithProgress<T>(TextWriter error, Func<IProgress<CatsDogsProgress>, T> work)
    {
        if (!ReferenceEquals(error, System.Console.Error) || System.Console.IsErrorRedirected)
        {
            var lastDecile = new Dictionary<string, int>();
            return work(new SyncProgress(p =>
            {
                var decile = p.Total == 0 ? 10 : p.Completed * 10 / p.Total;
                lock (lastDecile)
                {
                    if (!lastDecile.TryGetValue(p.Stage, out var seen) || decile > seen)
                    {
                        lastDecile[p.Stage] = decile;
                        error.WriteLine($"{p.Stage}: {p.Completed}/{p.Total}");
                    }
                }
            }));
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Error) });
        return console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                return work(new SyncProgress(p =>
                {
                    lock (tasks)
                    {
                        if (!tasks.TryGetValue(p.Stage, out var task))
                        {
                            task = tasks[p.Stage] = context.AddTask(p.Stage, maxValue: Math.Max(1, p.Total));
                        }

                        task.Value = p.Completed;
                    }
                }));
            });
    }

    private static IAnsiConsole Console(TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Interactive = InteractionSupport.No });
        if (!ReferenceEquals(output, System.Console.Out) || System.Console.IsOutputRedirected)
        {
            console.Profile.Width = 120; // tables in logs and pipes should not wrap at 80 columns
        }

        return console;
    }

    private static void ReportSkipped(TextWriter error, IReadOnlyList<SkippedImage> skipped)
    {
        foreach (var s in skipped)
        {
            error.WriteLine($"skipped: {s.Image.Path}: {s.Reason}");
        }
    }

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    private static string CsvField(string text) =>
        text.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;

    // Progress<T> posts to the thread pool and may report after the work ends; this reports inline, in order.
    private sealed class SyncProgress(Action<CatsDogsProgress> report) : IProgress<CatsDogsProgress>
    {
        public void Report(CatsDogsProgress value) => report(value);
    }
}
