using System.CommandLine;
using CatsDogs.Cli.Options;
using CatsDogs.ML.Data;
using Spectre.Console;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs evaluate</c>: log loss, accuracy, AUC, confusion matrix and the worst photos of a labelled folder.</summary>
internal static class EvaluateCommand
{
    public static Command Create(Cli cli)
    {
        var data = new Argument<string>("data-dir") { Description = "Labelled photos to score." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (logLoss, accuracy, auc, count, skipped, …) on stdout." };
        var command = new Command("evaluate", "Score labelled photos: log loss (Kaggle), accuracy, AUC, confusion matrix, worst photos.");
        var model = new ModelOptions().AddTo(command);
        command.Add(data);
        command.Add(json);
        cli.SetAction(command, (parse, token) =>
        {
            model.ModelPath(parse);
            var dataset = Photos.Folder(parse.GetRequiredValue(data), token);
            using var classifier = model.Load(parse, cli);
            var report = cli.WithProgress(progress => classifier.Evaluate(dataset, progress, token));
            cli.ReportSkipped(report.Skipped);
            if (parse.GetValue(json))
            {
                cli.WriteJson(new
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
                });
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
            return 0;
        });
        return command;
    }
}
