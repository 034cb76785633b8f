# made by p4 sweep; run with: gnuplot docs/results/cifar100-p4-lr0.01/sweep.gp
set datafile separator ','
set key center right
set title 'configs/cifar100-p4.ini'
set grid
set logscale x 2
set xlabel 'epsilon per client (delta 1e-05)'
set ylabel 'mean personalised test accuracy'
inf_x = 16
set xrange [6.4:20]
set xtics ("8" 8)
x(e) = (e eq 'inf') ? inf_x : real(e)
set terminal png size 800,520
set output 'docs/results/cifar100-p4-lr0.01/sweep.png'
plot 'docs/results/cifar100-p4-lr0.01/summary.csv' using (strcol(1) eq 'p4' ? x(strcol(2)) : NaN):4:5 skip 1 with yerrorlines title 'p4', 'docs/results/cifar100-p4-lr0.01/summary.csv' using (strcol(1) eq 'local' ? x(strcol(2)) : NaN):4:5 skip 1 with yerrorlines title 'local', 'docs/results/cifar100-p4-lr0.01/summary.csv' using (strcol(1) eq 'proxyfl' ? x(strcol(2)) : NaN):4:5 skip 1 with yerrorlines title 'proxyfl', 'docs/results/cifar100-p4-lr0.01/summary.csv' using (strcol(1) eq 'proxyfl-avg' ? x(strcol(2)) : NaN):4:5 skip 1 with yerrorlines title 'proxyfl-avg'
set terminal svg size 800,520
set output 'docs/results/cifar100-p4-lr0.01/sweep.svg'
plot 'docs/results/cifar100-p4-lr0.01/summary.csv' using (strcol(1) eq 'p4' ? x(strcol(2)) : NaN):4:5 skip 1 with yerrorlines title 'p4', 'docs/results/cifar100-p4-lr0.01/summary.csv' using (strcol(1) eq 'local' ? x(strcol(2)) : NaN):4:5 skip 1 with yerrorlines title 'local', 'docs/results/cifar100-p4-lr0.01/summary.csv' using (strcol(1) eq 'proxyfl' ? x(strcol(2)) : NaN):4:5 skip 1 with yerrorlines title 'proxyfl', 'docs/results/cifar100-p4-lr0.01/summary.csv' using (strcol(1) eq 'proxyfl-avg' ? x(strcol(2)) : NaN):4:5 skip 1 with yerrorlines title 'proxyfl-avg'
