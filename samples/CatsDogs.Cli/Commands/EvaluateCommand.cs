using System.CommandLine;
using CatsDogs.Cli.Options;
using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using CatsDogs.ML.Training;
using Spectre.Console;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs evaluate</c>: log loss, accuracy, AUC, confusion matrix and the worst photos of a labelled folder.</summary>
internal static class EvaluateCommand
{
    public static Command Create(Cli cli)
    {
        var data = new Argument<string>("data-dir") { Description = "Labelled photos to score." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (logLoss, accuracy, auc, count, skipped, calibration, …) on stdout." };
        var reportDir = new Option<string?>("--report") { Description = $"Also write report.html (ROC, reliability, P(dog) per class, confusion, the worst {EvaluationReportFiles.WorstShown} photos with heatmaps), its PNGs and report.json into this folder." };
        var command = new Command("evaluate", "Score labelled photos: log loss (Kaggle), accuracy, AUC, confusion matrix, worst photos.");
        var model = new ModelOptions().AddTo(command);
        command.Add(data);
        command.Add(json);
        command.Add(reportDir);
        cli.SetAction(command, (parse, token) =>
        {
            model.ModelPath(parse);
            var dataDir = parse.GetRequiredValue(data);
            var folder = parse.GetValue(reportDir) is { } r ? OutputFile.PrepareFolder(r, [dataDir]) : null;
            var dataset = Photos.Folder(dataDir, token, folder is null ? [] : [folder]);
            using var classifier = model.Load(parse, cli);
            var report = cli.WithProgress(progress => classifier.Evaluate(dataset, progress, token));
            cli.ReportSkipped(report.Skipped);
            if (folder is not null)
            {
                // A head without a linear form has no heatmaps: the report goes without the worst photos' sheet.
                using var explainer = HeadKinds.Capabilities(classifier.Head).HasLinearForm ? classifier.CreateExplainer() : null;
                cli.Error.WriteLine($"Report: {report.WriteHtml(folder, explainer)}");
            }

            if (parse.GetValue(json))
            {
                cli.Output.WriteLine(report.ToJson(dataset.Count));
                return 0;
            }

            var console = cli.Console();
            var metrics = new Table().Title("Evaluation").AddColumns("metric", "value");
            metrics.AddRow("log loss", Cli.F(report.LogLoss, "F4"));
            metrics.AddRow("accuracy", Cli.F(report.Accuracy, "P2"));
            metrics.AddRow("AUC", double.IsNaN(report.Auc) ? "undefined (one class only)" : Cli.F(report.Auc, "F4"));
            metrics.AddRow("scored / skipped / listed", $"{report.Count} / {report.Skipped.Count} / {dataset.Count}");
            metrics.AddRow("dogs: right / called cat", $"{report.Confusion.TruePositives} / {report.Confusion.FalseNegatives}");
            metrics.AddRow("cats: right / called dog", $"{report.Confusion.TrueNegatives} / {report.Confusion.FalsePositives}");
            console.Write(metrics);
            var worst = new Table().Title("Worst-scored photos").AddColumns("photo", "label", "P(dog)", "log loss");
            foreach (var w in report.Worst)
            {
                worst.AddRow(Markup.Escape(w.Image.Path), w.Image.Label.ToString()!.ToLowerInvariant(), Cli.F(w.DogProbability, "F4"), Cli.F(w.LogLoss, "F3"));
            }

            console.Write(worst);
            var calibration = new Table().Title($"Calibration (expected calibration error {Cli.F(report.Calibration.ExpectedCalibrationError, "F4")})").AddColumns("P(dog)", "photos", "mean P(dog)", "share of dogs");
            foreach (var bin in report.Calibration.Bins)
            {
                calibration.AddRow($"{Cli.F(bin.Lower, "F1")}–{Cli.F(bin.Upper, "F1")}", bin.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    bin.Count == 0 ? "" : Cli.F(bin.MeanPredicted, "F3"), bin.Count == 0 ? "" : Cli.F(bin.ObservedDogShare, "F3"));
            }

            console.Write(calibration);
            return 0;
        });
        return command;
    }
}
